"""The AMT attention loop: when to refresh every training sample's map, and keeping the bank."""
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmamt.datasets import AttentionBank
from mmamt.models.utils import build_map_source
from mmamt.utils.amt_config import moved_to_mask_generator
from mmamt.utils.compat import training_run
from ..bank_setup import attach_bank, check_panels
from ..refresh import (autocast_of, backbone_of, refresh_bank, refresh_summary, refresh_view,
                       schedule_summary)
from .resume_checks import restore_bank

BANK_KEY = 'amt_bank'
EMA_KEY = 'amt_refresh_ema'


def _positive_int(name: str, value, low: int) -> int:
    if int(value) != value or value < low:
        raise ValueError(f'AttentionRefreshHook: {name}={value} must be an integer >= {low}')
    return int(value)


@HOOKS.register_module()
class AttentionRefreshHook(Hook):
    """Refresh the AMT attention bank on a schedule, and keep it across resumes.

    After ``start_epoch`` completed epochs and every ``interval`` epochs after that (never after
    the last, nor from ``stop_epoch`` on), the refresh pass (:mod:`mmamt.engine.refresh`) writes
    every training sample's map into the bank (the last-layer [CLS] attention, or another
    ``map_source``), and AMT masking and
    throwing starts (and, with ``stop_epoch``, stops again). Before
    training the bank is made and attached to the pipeline
    (:func:`~mmamt.engine.bank_setup.attach_bank`: the map settings are the
    ``AMTMaskGenerator``'s). It is saved in every checkpoint (``amt_bank``) and after each
    refresh in ``work_dir/amt_bank/epoch_<e>.pth``; on resume
    :func:`~mmamt.engine.hooks.resume_checks.restore_bank` restores it, and a scheduled refresh
    it has not had runs before training continues.

    Args:
        start_epoch (int): Completed epochs before the first refresh. Defaults to 40.
        interval (int): Epochs between refreshes. Defaults to 40.
        batch_size (int, optional): Batch size of the refresh pass. Defaults to the training
            batch size.
        num_workers (int, optional): Its workers. Defaults to the training dataloader's.
        pipeline (list[dict], optional): Its deterministic view. Defaults to
            :func:`~mmamt.datasets.transforms.refresh_view_transforms` of the training pipeline.
        save_bank (bool): Write the bank after each refresh. Defaults to True.
        num_panels (int): After each refresh the runner's ``AMTVisualizer`` draws panels of
            samples ``0 .. num_panels - 1`` (``amt_<sample_idx>``, step ``epoch``) on the main
            process. Defaults to 0.
        panel_min_tile (int, optional): Smallest panel tile side (pixels). Defaults to 224.
        stop_epoch (int, optional): Completed epochs after which AMT stops for the rest of the
            run: the bank goes inactive, so the mask generator masks at random at its
            ``random_mask_ratio`` again (MAE's token count), and no refresh runs any more.
            The encoder then ends its training on the inputs of plain MAE, as FLIP ends with
            an unmasked phase; a run that throws more in between keeps its token budget.
            Must be > ``start_epoch``. Defaults to None (AMT to the end).
        map_source (dict | str, optional): Where each map comes from, a registered
            :class:`~mmamt.models.utils.MapSource` (:mod:`mmamt.models.utils.map_sources`):
            ``dict(type='CLSAttentionMap', layers=[-1, -2])`` or ``'PatchAttentionMap'``. The
            bank records it (a resume with another source recomputes the maps). Defaults to
            None: AMT's map, the head-averaged last-layer [CLS] attention.
        ema_momentum (float, optional): Refresh with an exponential moving average of the
            model's weights instead of the weights themselves (AttMask reads its teacher's
            attention; here the average costs no forward, only one update of a copy per step).
            mmengine's ``ExponentialMovingAverage`` convention: ``avg = (1 - m) * avg + m *
            weights`` after every step, so the average spans about ``1 / m`` steps; in (0, 1).
            The average is saved in every checkpoint (``amt_refresh_ema``) and resumed; the
            bank records the momentum. Defaults to None: the weights as they are.
        enable (bool): False turns the loop off, as ``VisualizationHook(enable=False)`` does
            drawing: ``default_hooks = dict(amt_refresh=dict(enable=False))``. Defaults to True.
        map_norm: Moved to ``AMTMaskGenerator.map_norm``; any value is refused, naming both.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) in after_train_epoch

    def __init__(self,
                 start_epoch: int = 40,
                 interval: int = 40,
                 batch_size: Optional[int] = None,
                 num_workers: Optional[int] = None,
                 pipeline: Optional[Sequence[dict]] = None,
                 save_bank: bool = True,
                 num_panels: int = 0,
                 panel_min_tile: Optional[int] = None,
                 stop_epoch: Optional[int] = None,
                 map_source: Union[None, str, dict] = None,
                 ema_momentum: Optional[float] = None,
                 enable: bool = True,
                 map_norm: Optional[str] = None) -> None:
        if map_norm is not None:
            raise ValueError(f'AttentionRefreshHook: {moved_to_mask_generator("map_norm")}')
        self.start_epoch = _positive_int('start_epoch', start_epoch, 1)
        self.interval = _positive_int('interval', interval, 1)
        self.stop_epoch = None
        if stop_epoch is not None:
            self.stop_epoch = _positive_int('stop_epoch', stop_epoch, self.start_epoch + 1)
        self.batch_size = None if batch_size is None else _positive_int('batch_size', batch_size, 1)
        self.num_panels = _positive_int('num_panels', num_panels, 0)
        self.panel_min_tile = (None if panel_min_tile is None else _positive_int(
            'panel_min_tile', panel_min_tile, 1))
        self.num_workers, self.pipeline, self.save_bank = num_workers, pipeline, save_bank
        self.enable, self.generator = bool(enable), None  # generator: set with the bank
        self.bank: Optional[AttentionBank] = None
        try:
            self.map_source = build_map_source(map_source)
        except ValueError as err:
            raise ValueError(f'AttentionRefreshHook: {err}') from None
        self.last_refresh_writes = 0
        if ema_momentum is not None and (isinstance(ema_momentum, bool) or
                                         not isinstance(ema_momentum,
                                                        (int, float)) or not 0 < ema_momentum < 1):
            raise ValueError(f'AttentionRefreshHook: ema_momentum={ema_momentum!r} must be a '
                             'number in (0, 1) (the weight of the new weights per step), or None')
        self.ema_momentum = None if ema_momentum is None else float(ema_momentum)
        self.ema = None  # the averaged model (mmengine ExponentialMovingAverage), when asked

    def refresh_epochs(self, max_epochs: int) -> List[int]:
        """Completed-epoch counts after which a refresh runs."""
        end = max_epochs if self.stop_epoch is None else min(max_epochs, self.stop_epoch)
        return list(range(self.start_epoch, end, self.interval))

    def stopped(self, completed: int) -> bool:
        """Whether AMT is over after ``completed`` epochs (``stop_epoch``)."""
        return self.stop_epoch is not None and completed >= self.stop_epoch

    def due_refresh(self, completed: int, max_epochs: int) -> Optional[int]:
        """The latest scheduled refresh at or before ``completed`` epochs, if any."""
        due = [e for e in self.refresh_epochs(max_epochs) if e <= completed]
        return due[-1] if due else None

    def _ensure_bank(self, runner) -> AttentionBank:
        if self.bank is None:
            self.bank, self.generator = attach_bank(runner.model, runner.train_dataloader,
                                                    self.map_source, self.ema_momentum)
        if self.ema_momentum is not None and self.ema is None:
            from mmengine.model import ExponentialMovingAverage

            # its first update copies the weights, wherever they came from (init, a load)
            self.ema = ExponentialMovingAverage(
                get_ori_model(runner.model), momentum=self.ema_momentum)
        return self.bank

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.enable and self.ema is not None:
            self.ema.update_parameters(get_ori_model(runner.model))

    def refresh_model(self, runner):
        """The model the refresh pass reads: the weights' average with ``ema_momentum``."""
        return runner.model if self.ema is None else self.ema.module

    def before_run(self, runner) -> None:
        if not (self.enable and training_run(runner)):
            return
        max_epochs = getattr(runner.train_loop, 'max_epochs', None)
        if max_epochs is None:
            raise TypeError('AttentionRefreshHook needs an epoch-based train loop')
        bank = self._ensure_bank(runner)
        check_panels(self.num_panels, runner.visualizer, get_ori_model(runner.model))
        summary = schedule_summary(bank, self.refresh_epochs(max_epochs))
        if self.stop_epoch is not None and self.stop_epoch < max_epochs:
            summary += f'; AMT stops after epoch {self.stop_epoch} (random masking after it)'
        runner.logger.info(summary)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.enable and self.bank is not None:
            checkpoint[BANK_KEY] = self.bank.state_dict()
        if self.enable and self.ema is not None:
            checkpoint[EMA_KEY] = self.ema.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine calls this before it loads any weight: restore_bank can still refuse
        if self.enable and training_run(runner):
            restore_bank(self._ensure_bank(runner), checkpoint, get_ori_model(runner.model), runner)
            if self.ema is not None and EMA_KEY in checkpoint:
                self.ema.load_state_dict(checkpoint[EMA_KEY])
            elif self.ema is not None:
                runner.logger.warning(f'AMT: the checkpoint has no {EMA_KEY} (it was saved '
                                      'without ema_momentum): the average starts again from '
                                      'the loaded weights')

    def before_train(self, runner) -> None:
        """On resume, run a scheduled refresh that the resumed bank has not seen."""
        if self.enable and self.bank is not None and self.stopped(runner.epoch):
            self.stop(runner, runner.epoch)
            return
        due = self.due_refresh(runner.epoch, runner.max_epochs) if self.enable else None
        if self.bank is None or due is None or self.bank.last_refresh_epoch >= due:
            return
        runner.logger.info(f'AMT: the refresh scheduled after epoch {due} has not run for this '
                           f'model (last refresh: {self.bank.last_refresh_epoch}); running it '
                           f'now, before epoch {runner.epoch + 1}')
        self.refresh(runner, runner.epoch)

    def after_train_epoch(self, runner) -> None:
        completed = runner.epoch + 1
        if self.enable and completed in self.refresh_epochs(runner.max_epochs):
            self.refresh(runner, completed)
        if self.enable and self.stop_epoch == completed and completed < runner.max_epochs:
            self.stop(runner, completed)

    def stop(self, runner, completed_epoch: int) -> None:
        """Switch AMT off for the rest of the run (``stop_epoch``); the maps are kept."""
        if self.bank.active:
            self.bank.active = False
            runner.logger.info(f'AMT: stopped after epoch {completed_epoch} (stop_epoch): random '
                               'masking at random_mask_ratio until the end of the run')

    def refresh(self, runner, completed_epoch: int) -> dict:
        """Recompute every map, switch AMT on, log, save the bank and draw the panels."""
        bank, loader = self.bank, runner.train_dataloader  # attached in before_run
        view = refresh_view(loader.dataset, backbone_of(runner.model).input_size, self.pipeline)
        runner.logger.info(f'AMT: refreshing {len(bank)} attention maps after epoch '
                           f'{completed_epoch}')
        workers = loader.num_workers if self.num_workers is None else self.num_workers
        stats = refresh_bank(
            self.refresh_model(runner), view, bank, completed_epoch, self.batch_size
            or loader.batch_size, workers, *autocast_of(getattr(runner, 'optim_wrapper', None)))
        self.last_refresh_writes = stats['writes']
        runner.logger.info(refresh_summary(stats, completed_epoch))
        if self.save_bank and is_main_process():
            bank.save(osp.join(runner.work_dir, 'amt_bank', f'epoch_{completed_epoch}.pth'))
        if self.num_panels and is_main_process():
            runner.visualizer.add_refresh_panels(runner.model, view, bank, self.generator,
                                                 completed_epoch, self.num_panels,
                                                 self.panel_min_tile)
        return stats
