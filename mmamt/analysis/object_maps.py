"""An oracle for the AMT guidance: steer the mask by the object itself, not by attention.

``ObjectMaskAsMap`` sits right after ``LoadAttentionMap`` in an analysis config and replaces the
sample's attention map by its object mask (:func:`~mmamt.analysis.attention_stats.
object_mask_path`: the handwritten digits' ``masks/`` tree, the synthetic set's label maps).
Everything else is the shipped loop: the refresh hook still runs on its schedule and switches
AMT on, the ramp still counts refreshes, the crop and flip still move the map with the view.
So a run with it measures what the shipped guidance would give if the [CLS] attention were
exactly the object, which bounds what any better attention source could give.

Analysis only: a training config does not use it (it needs object masks).
"""
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from .attention_stats import object_cells, object_mask_path, read_object_mask


@TRANSFORMS.register_module()
class ObjectMaskAsMap(BaseTransform):
    """Replace ``attn_map`` by the sample's object mask, once AMT is on.

    **Required Keys:** ``img_path``, ``attn_map``, ``amt_active`` (``LoadAttentionMap``).
    **Modified Keys:** ``attn_map``: float32 ``(grid, grid)``, the share of each cell on the
    object (1 object, 0 background), for an active sample; untouched before the first refresh
    (AMT is off then and the generator ignores the map).

    Args:
        grid (int): Cells per side of the map (the model's patch grid suffices: the generator
            averages the map over each patch of the view). Defaults to 8.
        seg_dir (str, optional): Folder of ``<stem>.png`` masks, see
            :func:`~mmamt.analysis.attention_stats.object_mask_path`. Defaults to None (the
            masks beside the class folders).
    """

    def __init__(self, grid: int = 8, seg_dir: Optional[str] = None) -> None:
        if int(grid) != grid or grid < 1:
            raise ValueError(f'ObjectMaskAsMap: grid={grid} must be a positive integer')
        self.grid = int(grid)
        self.seg_dir = seg_dir
        self._cache: Dict[str, np.ndarray] = {}

    def object_map(self, img_path: str) -> np.ndarray:
        """The ``(grid, grid)`` object share of each cell of the full image (cached)."""
        found = self._cache.get(img_path)
        if found is None:
            path = object_mask_path(img_path, self.seg_dir)
            if path is None:
                raise FileNotFoundError(f'ObjectMaskAsMap: no object mask for {img_path} (a '
                                        '`masks/` tree beside the class folders, or seg_dir)')
            found = object_cells(read_object_mask(path), self.grid).astype(np.float32)
            self._cache[img_path] = found
        return found

    def transform(self, results: dict) -> dict:
        if results.get('amt_active', False):
            results['attn_map'] = self.object_map(results['img_path'])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(grid={self.grid}, seg_dir={self.seg_dir!r})'
