"""How predictable a masked-image-modeling target is from the patches around it.

A MIM target that the neighbouring patches cannot predict teaches an encoder little: the loss
is lowest for the per-dimension mean, and an encoder can reach it without learning features.
:func:`neighbour_r2` measures this before any training: a ridge regression predicts each patch's
target from the targets of its four neighbours (fitted on some images, scored on the others), and
reports the share of the target's variance it explains (R^2; 0: no better than the mean).
"""
import glob
import os.path as osp
from typing import Dict

import numpy as np
import torch


def neighbour_r2(targets: torch.Tensor,
                 grid: int,
                 train_share: float = 2 / 3,
                 ridge: float = 1e-2) -> Dict[str, float]:
    """Share of a per-patch target's variance that its four neighbours explain linearly.

    Fitted and scored on the interior patches (those with four neighbours).

    Args:
        targets (torch.Tensor): ``(N, grid * grid, D)`` targets of N images, patches row-major.
        grid (int): Patches per side (at least 3).
        train_share (float): Images (the first ones) the regression is fitted on; the rest score
            it. Defaults to 2/3.
        ridge (float): Ridge penalty. Defaults to 1e-2.

    Returns:
        dict: ``mse`` of the regression and ``mean_mse`` of the training mean on the held-out
        images (what an encoder that learned nothing reaches), and ``r2 = 1 - mse / mean_mse``.
    """
    if targets.dim() != 3 or grid < 3 or targets.shape[1] != grid * grid:
        raise ValueError(f'targets must be (N, {grid * grid}, D) for grid={grid} >= 3, got '
                         f'{tuple(targets.shape)}')
    n = targets.shape[0]
    split = int(round(n * train_share))
    if not 0 < split < n:
        raise ValueError(f'train_share={train_share} leaves no image to fit or to score of {n}')
    t = targets.double()
    D = t.shape[-1]
    g = t.reshape(n, grid, grid, D)
    # Interior patches only: each has four real neighbours (no padding that copies the target)
    neighbours = torch.cat([g[:, :-2, 1:-1], g[:, 2:, 1:-1], g[:, 1:-1, :-2], g[:, 1:-1, 2:]],
                           dim=-1)
    inner = (grid - 2)**2
    x = torch.cat([neighbours.reshape(n, inner, 4 * D), t.new_ones(n, inner, 1)], -1)
    y = g[:, 1:-1, 1:-1].reshape(n, inner, D)
    x_fit, y_fit = x[:split].reshape(-1, x.shape[-1]), y[:split].reshape(-1, D)
    x_val, y_val = x[split:].reshape(-1, x.shape[-1]), y[split:].reshape(-1, D)
    eye = torch.eye(x.shape[-1], dtype=t.dtype)
    weights = torch.linalg.solve(x_fit.T @ x_fit + ridge * eye, x_fit.T @ y_fit)
    mse = float(((x_val @ weights - y_val)**2).mean())
    mean_mse = float(((y_val - y_fit.mean(0))**2).mean())
    return dict(mse=mse, mean_mse=mean_mse, r2=1 - mse / max(mean_mse, 1e-12))


def norm_pixel_targets(images: torch.Tensor, patch: int) -> torch.Tensor:
    """MAE's ``norm_pix`` target, ``(N, L, patch * patch * C)``: mmpretrain's own
    ``MAEPretrainHead.construct_target`` (each patch's pixels, ``(p, p, C)`` order, normalised by
    the patch's own mean and std)."""
    from mmpretrain.models.heads import MAEPretrainHead
    head = MAEPretrainHead(
        loss=dict(type='PixelReconstructionLoss', criterion='L2'),
        norm_pix=True,
        patch_size=patch,
        in_channels=images.shape[1])
    return head.construct_target(images)


MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')


def load_images(folder: str, size: int, count: int) -> torch.Tensor:
    """Up to ``count`` images of ``folder`` (recursively, evenly spaced in sorted order), resized
    to ``size`` (bicubic) and normalised with ImageNet's mean and std, ``(N, 3, size, size)``."""
    from PIL import Image
    files = sorted(
        f for f in glob.glob(osp.join(folder, '**', '*'), recursive=True)
        if f.lower().endswith(IMAGE_SUFFIXES))
    if len(files) < 3:
        raise ValueError(f'{folder!r} holds {len(files)} images; at least 3 are needed')
    files = files[::max(1, len(files) // count)][:count]
    images = np.stack([
        np.asarray(Image.open(f).convert('RGB').resize((size, size), Image.BICUBIC)) for f in files
    ])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
