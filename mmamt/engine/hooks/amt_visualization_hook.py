"""Send AMT panels (image, attention, token mask, reconstruction) to the visualizer."""
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from mmengine.dataset import default_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.visualization import LocalVisBackend
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmamt.datasets import AMTMaskGenerator
from mmamt.models.algorithms.mae_amt import MAEAMT
from mmamt.models.algorithms.simmim_amt import SimMIMAMT
from mmamt.visualization import render_panels
from mmamt.visualization.panel import MIN_TILE
from .attention_refresh_hook import AttentionRefreshHook, find_transforms

#: Image names are ``amt/<sample_idx>`` (a group in TensorBoard, a folder for LocalVisBackend).
NAME_PREFIX = 'amt'


@HOOKS.register_module()
class AMTVisualizationHook(Hook):
    """Draw AMT panels of a few fixed training samples after every attention refresh.

    When ``AttentionRefreshHook`` has just refreshed the bank (``bank.last_refresh_epoch`` is
    the epoch that just ended), samples ``0 .. num_samples - 1`` of the training set are drawn
    in the refresh pass's deterministic view with their new bank maps: image, attention heat
    map, the token mask that the training pipeline's ``AMTMaskGenerator`` draws from that map
    (seeded per sample, so only the map changes between refreshes) and the current model's
    reconstruction. Each panel goes to every backend of ``runner.visualizer`` as
    ``add_image(f'amt/{sample_idx}', panel, step=epoch)``; ``LocalVisBackend`` writes
    ``<work_dir>/<timestamp>/vis_data/vis_image/amt/<sample_idx>_<epoch>.png``.
    Panel layout and size: see :mod:`mmamt.visualization.panel`.

    Priority ``LOW``: after the refresh hook (``NORMAL``), before ``CheckpointHook``
    (``VERY_LOW``). Only the main process draws. Without a refresh hook, a supported model
    (``MAEAMT``, ``SimMIMAMT``) or any visualizer backend it warns once and does nothing.

    Args:
        num_samples (int): Training samples to draw (``sample_idx`` 0 .. n - 1). Defaults to 4.
        min_tile (int): Smallest tile side in pixels. Defaults to 224.
    """

    priority = 'LOW'

    def __init__(self, num_samples: int = 4, min_tile: int = MIN_TILE) -> None:
        if int(num_samples) != num_samples or num_samples < 1:
            raise ValueError(f'AMTVisualizationHook: num_samples={num_samples} must be an '
                             'integer >= 1')
        if int(min_tile) != min_tile or min_tile < 1:
            raise ValueError(f'AMTVisualizationHook: min_tile={min_tile} must be an integer >= 1')
        self.num_samples = int(num_samples)
        self.min_tile = int(min_tile)
        self._disabled: Optional[str] = None
        self._warned = False

    def _disable(self, runner, reason: str) -> None:
        self._disabled = reason
        if not self._warned:
            runner.logger.warning(f'AMTVisualizationHook: {reason}; no AMT panels are drawn')
            self._warned = True

    @staticmethod
    def _refresh_hook(runner) -> Optional[AttentionRefreshHook]:
        return next((h for h in runner.hooks if isinstance(h, AttentionRefreshHook)), None)

    def before_train(self, runner) -> None:
        backends = getattr(runner.visualizer, '_vis_backends', None)
        if runner.visualizer is None or not backends:
            self._disable(runner, 'the runner\'s visualizer has no vis_backends (add e.g. '
                          "visualizer=dict(type='Visualizer', "
                          "vis_backends=[dict(type='LocalVisBackend')]))")
        elif self._refresh_hook(runner) is None:
            self._disable(runner, 'there is no AttentionRefreshHook in custom_hooks')
        elif not isinstance(get_ori_model(runner.model), (MAEAMT, SimMIMAMT)):
            self._disable(runner, f'the model is {type(get_ori_model(runner.model)).__name__}, not '
                          'MAEAMT or SimMIMAMT')
        elif not find_transforms(runner.train_dataloader.dataset, AMTMaskGenerator):
            self._disable(runner, 'train_dataloader.dataset.pipeline has no AMTMaskGenerator')

    def after_train_epoch(self, runner) -> None:
        if self._disabled is not None or not is_main_process():
            return
        refresh = self._refresh_hook(runner)
        completed = runner.epoch + 1
        if refresh is None or refresh.bank is None or \
                refresh.bank.last_refresh_epoch != completed:
            return
        indices = list(range(min(self.num_samples, len(refresh.bank))))
        panels = self.draw(runner, refresh, indices, completed)
        self._make_local_dirs(runner.visualizer)
        for idx, panel in zip(indices, panels):
            runner.visualizer.add_image(f'{NAME_PREFIX}/{idx}', panel, step=completed)

    @torch.no_grad()
    def draw(self, runner, refresh: AttentionRefreshHook, indices: List[int],
             epoch: int) -> List[np.ndarray]:
        """Panels of the given training samples with the bank's current maps.

        Args:
            runner (Runner): The training runner.
            refresh (AttentionRefreshHook): Holds the bank and the deterministic view.
            indices (list[int]): ``sample_idx`` of the samples.
            epoch (int): Completed epoch, written into the titles.

        Returns:
            list[np.ndarray]: uint8 RGB panels.
        """
        model = get_ori_model(runner.model)
        # The very view the bank's maps were computed on.
        dataset = refresh.refresh_dataset(runner, model.backbone)
        batch = default_collate([dataset[i] for i in indices])
        inputs = model.data_preprocessor(batch, False)['inputs']
        maps = np.stack([refresh.bank.get(i) for i in indices])
        generator = find_transforms(runner.train_dataloader.dataset, AMTMaskGenerator)[0]
        return render_panels(model, generator, inputs, maps, seeds=[(0, i) for i in indices],
                             titles=[f'sample {i}, epoch {epoch}' for i in indices],
                             min_tile=self.min_tile)

    @staticmethod
    def _make_local_dirs(visualizer) -> None:
        # LocalVisBackend writes `<img dir>/<name>_<step>.png` without creating the folders a
        # '/' in the name implies (cv2.imwrite then fails silently), so create `amt/` first.
        for backend in getattr(visualizer, '_vis_backends', {}).values():
            if isinstance(backend, LocalVisBackend) and backend._save_dir is not None:
                img_dir = backend.experiment._img_save_dir  # `experiment` sets up the folders
                os.makedirs(osp.join(img_dir, NAME_PREFIX), exist_ok=True)
