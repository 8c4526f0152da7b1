"""The visualizer of AMT runs: mmpretrain's ``UniversalVisualizer`` plus AMT panels."""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import default_collate
from mmpretrain.registry import VISUALIZERS
from mmpretrain.utils import get_ori_model
from mmpretrain.visualization import UniversalVisualizer

from .amt_panels import render_panels
from .panel import MIN_TILE

#: Panels are named ``amt_<sample_idx>``: one TensorBoard tag per sample, one file per
#: sample and step for ``LocalVisBackend`` (``vis_image/amt_<sample_idx>_<step>.png``).
NAME_PREFIX = 'amt'


@VISUALIZERS.register_module()
class AMTVisualizer(UniversalVisualizer):
    """``UniversalVisualizer`` that also draws AMT panels and sends them to its backends.

    A panel shows an image, its [CLS] attention map, the token mask the config's
    ``AMTMaskGenerator`` draws from that map and the model's reconstruction (see
    :mod:`mmamt.visualization.panel`). Use it as the runner's visualizer, e.g.
    ``visualizer = dict(type='AMTVisualizer', vis_backends=[dict(type='LocalVisBackend')])``;
    ``AttentionRefreshHook``'s panels (``num_panels``) go through it.

    Args: see ``mmpretrain.visualization.UniversalVisualizer``.
    """

    @torch.no_grad()
    def add_amt_panels(self,
                       model: nn.Module,
                       generator,
                       inputs: torch.Tensor,
                       maps: np.ndarray,
                       sample_indices: Sequence[int],
                       step: int,
                       min_tile: int = MIN_TILE,
                       num_refreshes: Optional[int] = None) -> List[np.ndarray]:
        """Draw one panel per sample and add each to every backend as ``amt_<sample_idx>``.

        Args:
            model (nn.Module): ``MAEAMT`` or ``SimMIMAMT`` (wrapped or not).
            generator (AMTMaskGenerator): Draws the token masks from the maps, seeded per sample
                (``(0, sample_idx)``), so between steps only the maps change.
            inputs (torch.Tensor): Preprocessed images, ``(B, 3, H, W)``.
            maps (np.ndarray): Their attention maps, ``(B, h, w)``.
            sample_indices (Sequence[int]): ``sample_idx`` of each image (names and seeds).
            step (int): The step (epoch) the panels belong to; also in their titles.
            min_tile (int): Smallest tile side in pixels. Defaults to 224.
            num_refreshes (int, optional): Refreshes the maps come from (the generator's ramp
                reads them). Defaults to None: the guidance at full strength.

        Returns:
            list[np.ndarray]: The uint8 RGB panels.
        """
        panels = render_panels(
            model,
            generator,
            inputs,
            maps,
            seeds=[(0, i) for i in sample_indices],
            titles=[f'sample {i}, epoch {step}' for i in sample_indices],
            min_tile=min_tile,
            num_refreshes=num_refreshes)
        for idx, panel in zip(sample_indices, panels):
            self.add_image(f'{NAME_PREFIX}_{idx}', panel, step=step)
        return panels

    @torch.no_grad()
    def add_refresh_panels(self,
                           model: nn.Module,
                           view,
                           bank,
                           generator,
                           step: int,
                           num_panels: int,
                           min_tile: Optional[int] = None) -> List[np.ndarray]:
        """Panels of training samples ``0 .. num_panels - 1`` right after a refresh.

        Each image is shown in the very view its map was computed on (the refresh view), with
        the bank's current map and the token mask the generator draws from it at the bank's
        refresh count. What ``AttentionRefreshHook(num_panels=N)`` draws.

        Args:
            model (nn.Module): ``MAEAMT`` or ``SimMIMAMT`` (wrapped or not).
            view (BaseDataset): The training set in the refresh view
                (:func:`mmamt.engine.refresh.refresh_view`).
            bank (AttentionBank): The refreshed bank.
            generator (AMTMaskGenerator): The training pipeline's generator.
            step (int): The epoch after which the refresh ran.
            num_panels (int): Panels to draw.
            min_tile (int, optional): Smallest tile side in pixels. Defaults to None (224).

        Returns:
            list[np.ndarray]: The uint8 RGB panels.
        """
        indices = list(range(min(num_panels, len(bank))))
        model = get_ori_model(model)
        batch = default_collate([view[i] for i in indices])
        inputs = model.data_preprocessor(batch, False)['inputs']
        maps = np.stack([bank.get(i) for i in indices])
        return self.add_amt_panels(
            model,
            generator,
            inputs,
            maps,
            indices,
            step,
            min_tile=min_tile or MIN_TILE,
            num_refreshes=bank.num_refreshes)
