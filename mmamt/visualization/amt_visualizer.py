"""The visualizer of AMT runs: mmpretrain's ``UniversalVisualizer`` plus AMT panels."""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmpretrain.registry import VISUALIZERS
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
    def add_amt_panels(self, model: nn.Module, generator, inputs: torch.Tensor,
                       maps: np.ndarray, sample_indices: Sequence[int], step: int,
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
        panels = render_panels(model, generator, inputs, maps,
                               seeds=[(0, i) for i in sample_indices],
                               titles=[f'sample {i}, epoch {step}' for i in sample_indices],
                               min_tile=min_tile, num_refreshes=num_refreshes)
        for idx, panel in zip(sample_indices, panels):
            self.add_image(f'{NAME_PREFIX}_{idx}', panel, step=step)
        return panels
