import os

import pytest

# Tests run on small CPUs: keep each process to a couple of threads.
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """The built-in synthetic data set (small), made once per test session."""
    from mmamt.testing.synthetic import make_synthetic_dataset
    root = tmp_path_factory.mktemp('synthetic')
    make_synthetic_dataset(str(root), num_train=40, num_val=12, image_size=64, seed=0)
    return root


@pytest.fixture(scope='session')
def amt_checkpoint(synthetic_root, tmp_path_factory):
    """Factory of real MAE-AMT pre-training checkpoints for the downstream tests.

    ``amt_checkpoint(patch_size)`` trains the downstream demo configs' tiny ViT (64 dims,
    4 layers, 4 heads, 64 px) with MAE-AMT for 2 epochs (attention refreshed after the first)
    and returns the path of its last checkpoint; each patch size is trained once per session.
    """
    from mmengine.runner import Runner

    from tests.test_engine._amt_runner import downstream_pretrain_cfg
    made = {}

    def make(patch_size: int) -> str:
        if patch_size not in made:
            work = tmp_path_factory.mktemp(f'amt_pretrain_p{patch_size}')
            Runner.from_cfg(downstream_pretrain_cfg(synthetic_root, work, patch_size)).train()
            made[patch_size] = str(work / 'epoch_2.pth')
        return made[patch_size]

    return make


@pytest.fixture(autouse=True)
def _no_leftover_registry_scope():
    """Start every test without the registry scope an earlier test's Runner left behind.

    mmengine keeps the last Runner's ``default_scope`` process-wide (mmdet, mmseg, mmengine...);
    tests must not depend on which test ran before them.
    """
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    DefaultScope._instance_dict.clear()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


def pytest_terminal_summary(terminalreporter):
    """Say how many shipped configs the config smoke test trained (all of them, when green)."""
    import sys
    smoke = sys.modules.get('tests.test_configs_smoke')
    if smoke is not None:
        terminalreporter.write_line(
            f'config smoke test: {len(smoke.EXERCISED)} of {len(smoke.CONFIGS)} configs under '
            'configs/ (outside _base_/) trained')
