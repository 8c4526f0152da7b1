"""A quick linear probe of a frozen encoder: [CLS] and mean-patch features, logistic regression.

The encoder sees a deterministic view of every image (resized to its input size, no crop or
flip), its final-normed tokens are pooled two ways ([CLS], mean of the patch tokens), each
feature is standardised with the training split's statistics (the BN of MAE's linear-probe
protocol) and a multinomial logistic regression (L-BFGS, weight decay) is fit on the train split
and scored on the val split. Nothing here looks at the val labels before scoring, and the
settings are fixed: the probe is a measuring stick, not something to tune per result. The full
protocol (LARS, 90 epochs) lives in configs/benchmarks/mmpretrain/.
"""
import functools
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.datasets import CustomDataset
from mmpretrain.models import VisionTransformer

from mmamt.utils.model import build_model

POOLS = ('cls', 'mean')


@functools.lru_cache(maxsize=4)
def load_split(root: str, split: str, size: int) -> Tuple[torch.Tensor, torch.Tensor, tuple]:
    """Images and labels of a class-folder split ``root/split/<class>/*``.

    mmpretrain's ``CustomDataset`` finds the samples (classes numbered in sorted folder order)
    and its pipeline loads them: ``LoadImageFromFile``, then ``Resize`` to ``size`` (pillow,
    bicubic).

    Returns:
        tuple: float ``(N, 3, size, size)`` images in BGR 0-255 (as ``LoadImageFromFile`` gives
        them), int64 ``(N,)`` labels and the class names.
    """
    folder = osp.join(root, split)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'probe data: no {split!r} split folder in {root!r}')
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(size, size), backend='pillow', interpolation='bicubic'),
    ]
    try:
        dataset = CustomDataset(data_root=root, data_prefix=split, pipeline=pipeline)
    except (FileNotFoundError, RuntimeError) as e:
        # mmpretrain raises when a folder holds no image (RuntimeError in 1.2.0).
        raise FileNotFoundError(f'probe data: no images under {folder!r} ({e})') from e
    images, labels = [], []
    for i in range(len(dataset)):
        results = dataset[i]
        images.append(results['img'].transpose(2, 0, 1))
        labels.append(results['gt_label'])
    return (torch.from_numpy(np.stack(images)).float(), torch.tensor(labels),
            tuple(dataset.CLASSES))


@torch.no_grad()
def extract(model: torch.nn.Module,
            images: torch.Tensor,
            batch_size: int = 64) -> Dict[str, torch.Tensor]:
    """Pooled features of the frozen encoder.

    Args:
        model: An mmpretrain self-supervised algorithm (``data_preprocessor`` and a ViT
            ``backbone``, an mmpretrain ``VisionTransformer`` with ``out_type='raw'``).
        images (torch.Tensor): ``(N, 3, H, W)`` BGR 0-255.
        batch_size (int): Images per forward pass. Defaults to 64.

    Returns:
        dict[str, torch.Tensor]: ``{'cls': (N, C), 'mean': (N, C)}``.
    """
    feats = {pool: [] for pool in POOLS}
    for i in range(0, len(images), batch_size):
        batch = model.data_preprocessor(
            dict(inputs=images[i:i + batch_size], data_samples=None), False)['inputs']
        # VisionTransformer's own full-image forward: MAEViT, MFFViT, MaskFeatViT and the AMT
        # encoders all are one, but their forward(x, mask=None) differ (MFFViT's masks).
        out = VisionTransformer.forward(model.backbone, batch)[-1]  # (B, 1 + L, C), final-normed
        feats['cls'].append(out[:, 0])
        feats['mean'].append(out[:, 1:].mean(1))
    return {pool: torch.cat(v) for pool, v in feats.items()}


def fit_logistic(x: torch.Tensor,
                 y: torch.Tensor,
                 num_classes: int,
                 weight_decay: float = 1e-3,
                 steps: int = 300) -> torch.nn.Linear:
    """Multinomial logistic regression on ``(N, C)`` features, full-batch L-BFGS."""
    torch.manual_seed(0)
    clf = torch.nn.Linear(x.shape[1], num_classes)
    opt = torch.optim.LBFGS(clf.parameters(), lr=0.5, max_iter=steps, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(clf(x), y) + weight_decay * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return clf


def probe_model(model: torch.nn.Module, data_root: str) -> Dict:
    """Linear-probe top-1 (%) of a built model's frozen encoder on ``data_root``'s splits.

    Returns:
        dict: ``top1`` ({'cls': %, 'mean': %}), ``majority_baseline`` (%), ``num_train``,
        ``num_val``.
    """
    model.eval()
    backbone = model.backbone
    # mmpretrain's MAEViT has no ``input_size`` (the AMT backbones do): grid times stride.
    size = int(backbone.patch_resolution[0] * backbone.patch_embed.projection.stride[0])
    root = osp.abspath(data_root)
    x_train, y_train, classes = load_split(root, 'train', size)
    x_val, y_val, _ = load_split(root, 'val', size)
    f_train, f_val = extract(model, x_train), extract(model, x_val)
    top1 = {}
    for pool in POOLS:
        mean, std = f_train[pool].mean(0), f_train[pool].std(0) + 1e-6
        clf = fit_logistic((f_train[pool] - mean) / std, y_train, len(classes))
        with torch.no_grad():
            pred = clf((f_val[pool] - mean) / std).argmax(1)
        top1[pool] = (pred == y_val).float().mean().item() * 100
    majority = torch.bincount(y_val, minlength=len(classes)).max().item() / len(y_val) * 100
    return dict(top1=top1, majority_baseline=majority, num_train=len(y_train), num_val=len(y_val))


def build_encoder_model(config, checkpoint: Optional[str] = None, seed: int = 0) -> torch.nn.Module:
    """The config's model with its initialisation (seeded), then ``checkpoint`` if given (strict:
    a checkpoint of another architecture fails instead of probing a half-random encoder); see
    :func:`mmamt.utils.build_model`."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    return build_model(cfg, checkpoint, seed=seed)


def probe(config, checkpoint: Optional[str], data_root: str, seed: int = 0) -> Dict:
    """Linear-probe top-1 (%) of the config's encoder, from ``checkpoint`` or random init.

    Args:
        config (str | Config): The pre-training config (its ``model`` is built).
        checkpoint (str, optional): Pre-training checkpoint; None probes the seeded random
            initialisation.
        data_root (str): Class-folder data with ``train/`` and ``val/``.
        seed (int): Seed of the random initialisation. Defaults to 0.

    Returns:
        dict: See :func:`probe_model`.
    """
    return probe_model(build_encoder_model(config, checkpoint, seed), data_root)
