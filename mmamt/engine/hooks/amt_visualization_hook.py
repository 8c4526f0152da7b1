"""Draw AMT panels (image, attention, token mask, reconstruction) after each refresh."""
from typing import Optional

import numpy as np
from mmengine.dataset import default_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmamt.datasets import AMTMaskGenerator
from mmamt.models.algorithms.mae_amt import MAEAMT
from mmamt.models.algorithms.simmim_amt import SimMIMAMT
from mmamt.visualization import AMTVisualizer
from mmamt.visualization.panel import MIN_TILE
from .attention_refresh_hook import AttentionRefreshHook, find_transforms


@HOOKS.register_module()
class AMTVisualizationHook(Hook):
    """Draw AMT panels of a few fixed training samples after every attention refresh.

    When ``AttentionRefreshHook`` has just refreshed the bank (``bank.last_refresh_epoch`` is
    the epoch that just ended), samples ``0 .. num_samples - 1`` of the training set are drawn
    in the refresh pass's deterministic view with their new bank maps: image, attention heat
    map, the token mask that the training pipeline's ``AMTMaskGenerator`` draws from that map
    (seeded per sample, so only the map changes between refreshes) and the current model's
    reconstruction. The runner's visualizer (an ``AMTVisualizer``) draws them and sends each
    to its backends as ``amt_<sample_idx>`` at step ``epoch``; ``LocalVisBackend`` writes
    ``<work_dir>/<timestamp>/vis_data/vis_image/amt_<sample_idx>_<epoch>.png``.
    Panel layout and size: see :mod:`mmamt.visualization.panel`.

    Priority ``LOW``: after the refresh hook (``NORMAL``), before ``CheckpointHook``
    (``VERY_LOW``). Only the main process draws. Without a refresh hook, a supported model
    (``MAEAMT``, ``SimMIMAMT``) or an ``AMTVisualizer`` it warns once and does nothing.

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
        if not isinstance(runner.visualizer, AMTVisualizer):
            self._disable(runner, f'the runner\'s visualizer is '
                          f'{type(runner.visualizer).__name__}, not AMTVisualizer (set '
                          "visualizer=dict(type='AMTVisualizer', "
                          "vis_backends=[dict(type='LocalVisBackend')]))")
        elif self._refresh_hook(runner) is None:
            self._disable(runner, 'there is no AttentionRefreshHook in custom_hooks')
        elif not isinstance(get_ori_model(runner.model), (MAEAMT, SimMIMAMT)):
            model_type = type(get_ori_model(runner.model)).__name__
            self._disable(runner, f'the model is {model_type}, not MAEAMT or SimMIMAMT')
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
        model = get_ori_model(runner.model)
        # The very view the bank's maps were computed on.
        dataset = refresh.refresh_dataset(runner, model.backbone)
        batch = default_collate([dataset[i] for i in indices])
        inputs = model.data_preprocessor(batch, False)['inputs']
        maps = np.stack([refresh.bank.get(i) for i in indices])
        generator = find_transforms(runner.train_dataloader.dataset, AMTMaskGenerator)[0]
        runner.visualizer.add_amt_panels(model, generator, inputs, maps, indices, completed,
                                         min_tile=self.min_tile)
