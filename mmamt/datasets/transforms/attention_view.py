"""Keep each sample's attention map aligned with its augmented view.

The map describes the full, uncropped image. Instead of cropping the small map at every step
(which cannot be done exactly on a 14x14 grid, and which the reference code got wrong), the
transforms here track the *view*: the box of the original image that the current image shows,
in relative coordinates ``(x0, y0, x1, y1)``. A horizontal flip swaps ``x0`` and ``x1``, a
vertical flip ``y0`` and ``y1``; a crop of the current image maps into the box linearly, so
crops and flips compose in any order. ``AMTMaskGenerator`` samples the map once, over the final
view, at the mask grid.
"""
import copy
import functools
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform, RandomFlip
from mmengine.logging import print_log
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

FULL_VIEW = (0.0, 0.0, 1.0, 1.0)
VIEW_KEY = 'amt_view'


def compose_crop(view: Tuple[float, float, float, float],
                 crop: Tuple[float, float, float, float]) -> Tuple[float, float, float, float]:
    """The view after cropping the current image at relative box ``crop`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = view
    cx0, cy0, cx1, cy1 = crop
    return (x0 + (x1 - x0) * cx0, y0 + (y1 - y0) * cy0, x0 + (x1 - x0) * cx1, y0 + (y1 - y0) * cy1)


def compose_flip(view: Tuple[float, float, float, float],
                 direction: str) -> Tuple[float, float, float, float]:
    """The view after flipping the current image."""
    x0, y0, x1, y1 = view
    if direction in ('horizontal', 'diagonal'):
        x0, x1 = x1, x0
    if direction in ('vertical', 'diagonal'):
        y0, y1 = y1, y0
    return (x0, y0, x1, y1)


@functools.lru_cache(maxsize=None)
def _subsample_layout(cells: int, subsamples: int) -> Tuple[np.ndarray, np.ndarray]:
    """Relative positions of the sub-samples (centred in their sub-cells) and their cell."""
    n = cells * subsamples
    return (np.arange(n) + 0.5) / n, np.arange(n) // subsamples


def _cell_weights(lo: float, hi: float, cells: int, n_map: int, subsamples: int) -> np.ndarray:
    """``(cells, n_map)``: share of each output cell's sub-samples in each map cell (1D)."""
    t, cell = _subsample_layout(cells, subsamples)
    idx = np.clip(np.floor((lo + (hi - lo) * t) * n_map), 0, n_map - 1).astype(np.int64)
    counts = np.bincount(cell * n_map + idx, minlength=cells * n_map)
    return counts.reshape(cells, n_map) * (1.0 / subsamples)


def sample_map(attn_map: np.ndarray,
               view: Tuple[float, float, float, float],
               grid: Tuple[int, int],
               subsamples: int = 4) -> np.ndarray:
    """Mean of the map over each cell of the view's grid (area average, sub-sampled).

    The map is taken as constant over each of its cells (one value per patch of the full
    image), so sampling the full view at the map's own grid returns the map unchanged.
    The sub-sample grid is separable, so the mean over each cell's ``subsamples**2`` samples is
    ``rows @ map @ cols.T`` with 1D weights, without building the dense sample grid.

    Args:
        attn_map (np.ndarray): ``(H_m, W_m)`` map of the full image.
        view (tuple): ``(x0, y0, x1, y1)`` relative box of the full image that the view shows
            (x0 > x1 means horizontally flipped, y0 > y1 vertically).
        grid (tuple[int, int]): ``(h, w)`` output cells over the view.
        subsamples (int): Samples per cell side. Defaults to 4.

    Returns:
        np.ndarray: ``(h, w)`` float32 cell weights.
    """
    hm, wm = attn_map.shape
    x0, y0, x1, y1 = view
    rows = _cell_weights(y0, y1, grid[0], hm, subsamples)
    cols = _cell_weights(x0, x1, grid[1], wm, subsamples)
    return (rows @ attn_map.astype(np.float64) @ cols.T).astype(np.float32)


@TRANSFORMS.register_module()
class LoadAttentionMap(BaseTransform):
    """Put the sample's AMT map (from the attention bank) and a full view into the results.

    The bank is attached by ``AttentionRefreshHook`` before the dataloader workers start. With
    no bank attached (e.g. a pipeline used outside training), the map is uniform and AMT is
    inactive, so ``AMTMaskGenerator`` falls back to random masking; the first such sample of
    each process logs a warning, since in training it means the run has no refresh hook and is
    plain random masking (``tools/train.py`` refuses that config before it starts).

    **Required Keys:** ``sample_idx``. **Added Keys:** ``attn_map`` (float32 ``(h, w)`` or None),
    ``amt_active`` (bool), ``amt_refreshes`` (int, refreshes so far), ``amt_view``
    ((x0, y0, x1, y1)).
    """

    def __init__(self) -> None:
        self.bank = None
        self._warned = False

    def attach(self, bank) -> None:
        """Read maps from ``bank`` (an :class:`AttentionBank`) from now on."""
        self.bank = bank

    def transform(self, results: dict) -> dict:
        results[VIEW_KEY] = FULL_VIEW
        if self.bank is None:
            if not self._warned:
                self._warned = True
                print_log(
                    'LoadAttentionMap has no attention bank attached: every map is uniform '
                    'and AMT is off (random masking). In training the AttentionRefreshHook '
                    '(default_hooks.amt_refresh) attaches it; a run without one is not AMT.',
                    logger='current',
                    level=logging.WARNING)
            results['attn_map'] = None
            results['amt_active'] = False
            results['amt_refreshes'] = 0
            return results
        if 'sample_idx' not in results:
            raise KeyError('LoadAttentionMap needs `sample_idx` in the results (mmengine '
                           'BaseDataset sets it)')
        results['attn_map'] = self.bank.get(int(results['sample_idx']))
        results['amt_active'] = self.bank.active
        results['amt_refreshes'] = self.bank.num_refreshes
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(bank={"attached" if self.bank is not None else None})'


@TRANSFORMS.register_module()
class AMTRandomResizedCrop(RandomResizedCrop):
    """mmpretrain's ``RandomResizedCrop`` that also carries the attention view along.

    Same arguments and the same random crop as the parent (``rand_crop_params``); the crop box is
    recorded into ``amt_view`` (relative to the original image), and in ``crop_bbox``
    (pixels of the image it cropped, ``(x0, y0, x1, y1)``, exclusive end).
    """

    def rand_crop_params(self, img: np.ndarray) -> Tuple[int, int, int, int]:
        # Record the box the parent draws for the crop it is about to make. (mmcv's
        # cache_random_params cannot be used here: it leaks wrappers when a cache_randomness
        # name is listed twice, as mmpretrain's crop subclasses make it.)
        params = super().rand_crop_params(img)
        self._last_crop = params
        return params

    def transform(self, results: dict) -> dict:
        h, w = results['img'].shape[:2]
        results = super().transform(results)  # mmpretrain's crop and resize, unchanged
        offset_h, offset_w, target_h, target_w = self._last_crop
        results['crop_bbox'] = (offset_w, offset_h, offset_w + target_w, offset_h + target_h)
        crop = (offset_w / w, offset_h / h, (offset_w + target_w) / w, (offset_h + target_h) / h)
        results[VIEW_KEY] = compose_crop(results.get(VIEW_KEY, FULL_VIEW), crop)
        return results


@TRANSFORMS.register_module()
class AMTRandomFlip(RandomFlip):
    """mmcv's ``RandomFlip`` that also flips the attention view. Same arguments."""

    def _flip(self, results: dict) -> None:
        super()._flip(results)
        results[VIEW_KEY] = compose_flip(
            results.get(VIEW_KEY, FULL_VIEW), results['flip_direction'])
        results['amt_view_flipped'] = True


def current_view(results: dict) -> Optional[Tuple[float, float, float, float]]:
    """The recorded view, checking that no plain (untracked) flip happened."""
    if results.get('flip', False) and not results.get('amt_view_flipped', False):
        raise ValueError('the image was flipped by a RandomFlip that does not track the attention'
                         ' map: use AMTRandomFlip (and AMTRandomResizedCrop) in the pipeline')
    return results.get(VIEW_KEY, FULL_VIEW)


def refresh_view_transforms(pipeline: Sequence[Union[dict, BaseTransform]],
                            size: Tuple[int, int]) -> List[BaseTransform]:
    """The deterministic view the attention maps are computed on (and drawn over).

    The steps of the training pipeline before ``LoadAttentionMap`` (image loading), then the full
    image resized to the model input (no crop, no flip), then ``PackInputs``. One definition for
    the refresh pass and the visualiser, so a panel shows exactly what the map was computed on.

    Args:
        pipeline (Sequence[dict | BaseTransform]): The training pipeline, as configs or built.
        size (tuple[int, int]): ``(H, W)``, the model input size.

    Returns:
        list[BaseTransform]: Built transforms (from mmpretrain's registry).

    Raises:
        ValueError: If the pipeline has no ``LoadAttentionMap``.
    """
    loading = []
    for t in pipeline:
        name = t.get('type') if isinstance(t, dict) else type(t).__name__
        if isinstance(t, LoadAttentionMap) or name == 'LoadAttentionMap':
            break
        loading.append(copy.deepcopy(t) if isinstance(t, dict) else t)
    else:
        raise ValueError('train_dataloader.dataset.pipeline has no LoadAttentionMap; the '
                         'deterministic view keeps the steps before it (image loading)')
    steps = loading + [
        dict(type='Resize', scale=(size[1], size[0]), backend='pillow', interpolation='bicubic'),
        dict(type='PackInputs')
    ]
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in steps]
