"""Helpers of the fault tests: a private copy of the synthetic data to damage."""
import glob
import shutil

from mmamt.engine.hooks import AttentionRefreshHook


def copy_data(synthetic_root, dst):
    """A copy of the synthetic ImageNet-style train folder that a test may damage."""
    shutil.copytree(synthetic_root / 'imagenet' / 'train', dst / 'imagenet' / 'train')
    return dst


def train_images(data_root):
    """The training images in the order CustomDataset lists them."""
    return sorted(glob.glob(str(data_root / 'imagenet' / 'train' / '**' / '*.*'), recursive=True))


def refresh_hook(runner) -> AttentionRefreshHook:
    return next(h for h in runner.hooks if isinstance(h, AttentionRefreshHook))
