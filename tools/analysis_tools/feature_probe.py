"""Quick linear probe of a pre-trained encoder on a class-folder data set (no training run).

Extracts the [CLS] feature of the frozen encoder (deterministic view: resize to the input size),
standardises it (the BN of MAE's linear-probe protocol), fits a multinomial logistic regression on
the train split and reports top-1 accuracy on the val split. Used by ``make demo`` to compare a
pre-trained encoder with a randomly initialised one; the full protocol (LARS, 90 epochs) is in
configs/benchmarks/mmpretrain/.

    python tools/analysis_tools/feature_probe.py CONFIG [CHECKPOINT] \
        --data-root data/synthetic/imagenet
"""
import argparse
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS
from PIL import Image

import mmamt  # noqa: F401
from mmamt.utils import config_scope


def load_split(root: str, split: str, size: int):
    """Images (N, 3, size, size), BGR 0-255 like ``LoadImageFromFile``, and labels of
    ``root/split/<class>/*`` (classes in sorted folder order)."""
    classes = sorted(d for d in os.listdir(osp.join(root, split))
                     if osp.isdir(osp.join(root, split, d)))
    images, labels = [], []
    for label, cls in enumerate(classes):
        folder = osp.join(root, split, cls)
        for name in sorted(os.listdir(folder)):
            img = Image.open(osp.join(folder, name)).convert('RGB').resize((size, size),
                                                                            Image.BICUBIC)
            images.append(np.asarray(img)[..., ::-1].transpose(2, 0, 1))
            labels.append(label)
    return torch.from_numpy(np.stack(images)).float(), torch.tensor(labels), classes


@torch.no_grad()
def extract(model, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    feats = []
    for i in range(0, len(images), batch_size):
        batch = model.data_preprocessor(
            dict(inputs=images[i:i + batch_size], data_samples=None), False)['inputs']
        out = model.backbone(batch, mask=None)[-1]  # (B, 1 + L, C), final-normed
        feats.append(out[:, 0])
    return torch.cat(feats)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, num_classes: int, weight_decay: float = 1e-3,
                 steps: int = 300) -> torch.nn.Linear:
    torch.manual_seed(0)
    clf = torch.nn.Linear(x.shape[1], num_classes)
    opt = torch.optim.LBFGS(clf.parameters(), lr=0.5, max_iter=steps, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(clf(x), y) + weight_decay * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return clf


def probe(config: str, checkpoint: Optional[str], data_root: str, seed: int = 0) -> Dict:
    """Linear-probe accuracy (%) of the config's encoder, from ``checkpoint`` or random init."""
    cfg = Config.fromfile(config)
    torch.manual_seed(seed)
    with config_scope(cfg):
        model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    model.eval()
    size = model.backbone.input_size[0]
    x_train, y_train, classes = load_split(data_root, 'train', size)
    x_val, y_val, _ = load_split(data_root, 'val', size)
    f_train, f_val = extract(model, x_train), extract(model, x_val)
    mean, std = f_train.mean(0), f_train.std(0) + 1e-6
    clf = fit_logistic((f_train - mean) / std, y_train, len(classes))
    with torch.no_grad():
        acc = (clf((f_val - mean) / std).argmax(1) == y_val).float().mean().item() * 100
        chance = torch.bincount(y_val).max().item() / len(y_val) * 100
    return dict(accuracy=acc, majority_baseline=chance, num_train=len(y_train),
                num_val=len(y_val))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='omit for a randomly initialised encoder')
    parser.add_argument('--data-root', default='data/synthetic/imagenet')
    args = parser.parse_args()
    result = probe(args.config, args.checkpoint, args.data_root)
    print(f"linear probe top-1: {result['accuracy']:.1f}% (majority class "
          f"{result['majority_baseline']:.1f}%, {result['num_train']} train / "
          f"{result['num_val']} val images)")


if __name__ == '__main__':
    main()
