"""The AMT attention loop: when to refresh every training sample's map, and keeping the bank."""
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset, Compose
from mmengine.dist import get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmamt.datasets import AMTMaskGenerator, AttentionBank, LoadAttentionMap, dataset_identity
from mmamt.datasets.transforms import SampleNamingCompose
from mmamt.models.utils import MAP_NORMS, describe_model
from mmamt.utils.compat import training_run
from ..refresh import backbone_of, check_sizes, map_record, refresh_bank, refresh_view
from .resume_checks import restore_bank

BANK_KEY = 'amt_bank'


def _positive_int(name: str, value, low: int) -> int:
    if int(value) != value or value < low:
        raise ValueError(f'AttentionRefreshHook: {name}={value} must be an integer >= {low}')
    return int(value)


@HOOKS.register_module()
class AttentionRefreshHook(Hook):
    """Refresh the AMT attention bank on a schedule, and keep it across resumes.

    After epoch ``start_epoch`` (counting completed epochs) and every ``interval`` epochs after
    it, but never after the last, the hook runs the refresh pass (:mod:`mmamt.engine.refresh`:
    the whole training set in a deterministic view, no grad, each sample's last-layer [CLS]
    attention written into the bank; with DDP every rank ends with the same full bank). From
    then on AMT masking and throwing is active.

    Before training it checks the sizes of model and pipeline, creates the bank (shared memory,
    with a record of how its maps are made, :attr:`AttentionBank.made_with`) and attaches it to
    the pipeline's ``LoadAttentionMap`` before the dataloader workers start. The bank is saved in
    every checkpoint (``checkpoint['amt_bank']``) and restored on resume
    (:func:`~mmamt.engine.hooks.resume_checks.restore_bank` refuses another model and discards
    maps of other data or settings); a scheduled refresh the restored bank has not had runs
    before training continues. After each refresh the bank is also written atomically to
    ``work_dir/amt_bank/epoch_<e>.pth``.

    Args:
        start_epoch (int): Completed epochs before the first refresh. Defaults to 40.
        interval (int): Epochs between refreshes. Defaults to 40.
        batch_size (int, optional): Batch size of the refresh pass. Defaults to the training
            batch size.
        num_workers (int, optional): Workers of the refresh pass. Defaults to the training
            dataloader's.
        pipeline (list[dict], optional): The deterministic view. Defaults to the training
            pipeline's loading steps, then ``Resize`` to the model input and ``PackInputs``.
        save_bank (bool): Write the bank to ``work_dir/amt_bank/`` after each refresh.
            Defaults to True.
        num_panels (int): After each refresh, the runner's visualizer (an ``AMTVisualizer``)
            draws panels of training samples ``0 .. num_panels - 1`` (image, map, token mask,
            reconstruction) as ``amt_<sample_idx>`` at step ``epoch``, on the main process.
            Defaults to 0 (none).
        panel_min_tile (int, optional): Smallest panel tile side in pixels. Defaults to the
            visualizer's.
        map_norm (str): How the per-head attention becomes the map, ``'minmax'`` (the
            reference) or ``'max'``; see :func:`mmamt.models.utils.normalize_attention`.
            Defaults to ``'minmax'``.
        enable (bool): False turns the attention loop off, as ``VisualizationHook(enable=False)``
            does for drawing: how a baseline derived from an AMT config drops it,
            ``default_hooks = dict(amt_refresh=dict(enable=False))`` (mmengine accepts ``None``
            only for its own default hooks). Defaults to True.
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
                 map_norm: str = 'minmax',
                 enable: bool = True) -> None:
        self.start_epoch = _positive_int('start_epoch', start_epoch, 1)
        self.interval = _positive_int('interval', interval, 1)
        self.batch_size = None if batch_size is None else _positive_int('batch_size', batch_size, 1)
        self.num_panels = _positive_int('num_panels', num_panels, 0)
        self.panel_min_tile = (None if panel_min_tile is None else _positive_int(
            'panel_min_tile', panel_min_tile, 1))
        if map_norm not in MAP_NORMS:
            raise ValueError(f'AttentionRefreshHook: map_norm={map_norm!r} must be one of '
                             f'{MAP_NORMS}')
        self.num_workers, self.pipeline, self.save_bank = num_workers, pipeline, save_bank
        self.map_norm, self.enable = map_norm, bool(enable)
        self.bank: Optional[AttentionBank] = None
        self.last_refresh_writes = 0

    # -- schedule ----------------------------------------------------------------------------
    def refresh_epochs(self, max_epochs: int) -> List[int]:
        """Completed-epoch counts after which a refresh runs."""
        return list(range(self.start_epoch, max_epochs, self.interval))

    def due_refresh(self, completed: int, max_epochs: int) -> Optional[int]:
        """The latest scheduled refresh at or before ``completed`` epochs, if any."""
        due = [e for e in self.refresh_epochs(max_epochs) if e <= completed]
        return due[-1] if due else None

    # -- the bank ----------------------------------------------------------------------------
    def _ensure_bank(self, runner) -> AttentionBank:
        """Check model and pipeline, create the bank and attach it (once per run)."""
        if self.bank is not None:
            return self.bank
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, BaseDataset):
            # Wrappers renumber samples (ConcatDataset restarts sample_idx per part, RepeatDataset
            # repeats it), so one map per sample_idx would be ambiguous.
            raise TypeError('AttentionRefreshHook needs train_dataloader.dataset to be an mmengine '
                            f'BaseDataset (got {type(dataset).__name__}); wrapped datasets are not '
                            'supported: list all images in one ann_file instead')
        transforms = getattr(dataset.pipeline, 'transforms', [])
        for cls in (LoadAttentionMap, AMTMaskGenerator):
            if not any(isinstance(t, cls) for t in transforms):
                raise ValueError(f'AttentionRefreshHook: train_dataloader.dataset.pipeline has no '
                                 f'{cls.__name__}, so no map would reach the token masks; see '
                                 'configs/_base_/amt_mae_pipeline.py, or set '
                                 'default_hooks.amt_refresh.enable=False to train without AMT')
        check_sizes(runner.model, transforms)
        model = get_ori_model(runner.model)
        made_with = dict(
            maps=map_record(model, self.map_norm),
            model=describe_model(model),
            run=dict(world_size=get_dist_info()[1], iters_per_epoch=len(runner.train_dataloader)))
        self.bank = AttentionBank(
            len(dataset), tuple(backbone_of(model).patch_resolution), dataset_identity(dataset),
            made_with)
        for t in transforms:
            if isinstance(t, LoadAttentionMap):
                t.attach(self.bank)
        if type(dataset.pipeline) is Compose:
            # errors of the loading transforms then name the sample and its file
            dataset.pipeline = SampleNamingCompose(transforms)
        return self.bank

    def before_run(self, runner) -> None:
        if not (self.enable and training_run(runner)):
            return
        max_epochs = getattr(runner.train_loop, 'max_epochs', None)
        if max_epochs is None:
            raise TypeError('AttentionRefreshHook needs an epoch-based train loop')
        bank = self._ensure_bank(runner)
        if self.num_panels and not hasattr(runner.visualizer, 'add_refresh_panels'):
            raise ValueError(
                f'AttentionRefreshHook: num_panels={self.num_panels} needs the runner\'s '
                f'visualizer to be an AMTVisualizer, got {type(runner.visualizer).__name__}: set '
                "visualizer=dict(type='AMTVisualizer', vis_backends=[...]) or num_panels=0")
        epochs = self.refresh_epochs(max_epochs)
        shown = ', '.join(map(str, epochs[:6])) + (', ...' if len(epochs) > 6 else '')
        runner.logger.info(f'AMT: {len(bank)} attention maps of {bank.grid}; refresh after '
                           f'epochs {shown}' if epochs else 'AMT: no refresh within max_epochs: '
                           'AMT never starts (plain random masking throughout)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.enable and self.bank is not None:
            checkpoint[BANK_KEY] = self.bank.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # mmengine calls this before it loads any weight: restore_bank can still refuse
        if self.enable and training_run(runner):
            restore_bank(self._ensure_bank(runner), checkpoint, get_ori_model(runner.model), runner)

    # -- triggers ----------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        """On resume, run a scheduled refresh that the resumed bank has not seen."""
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

    def refresh(self, runner, completed_epoch: int) -> dict:
        """Recompute every map, switch AMT on, log, save the bank and draw the panels."""
        bank, loader = self._ensure_bank(runner), runner.train_dataloader
        view = refresh_view(loader.dataset, backbone_of(runner.model).input_size, self.pipeline)
        wrapper = getattr(runner, 'optim_wrapper', None)
        amp = isinstance(wrapper, AmpOptimWrapper)
        runner.logger.info(f'AMT: refreshing {len(bank)} attention maps after epoch '
                           f'{completed_epoch}')
        stats = refresh_bank(runner.model, view, bank, completed_epoch, self.batch_size
                             or loader.batch_size,
                             loader.num_workers if self.num_workers is None else self.num_workers,
                             amp, wrapper.cast_dtype if amp else None)
        self.last_refresh_writes = stats['writes']
        runner.logger.info(
            f'AMT refresh after epoch {completed_epoch}: {len(bank)} maps in '
            f'{stats["seconds"]:.1f}s ({stats["img_per_s"]:.1f} img/s); map mean '
            f'{stats["mean"]:.3f}, std {stats["std"]:.3f}, entropy {stats["entropy"]:.3f}; AMT '
            f'masking and throwing active from epoch {completed_epoch + 1}')
        if self.save_bank and is_main_process():
            bank.save(osp.join(runner.work_dir, 'amt_bank', f'epoch_{completed_epoch}.pth'))
        if self.num_panels and is_main_process():
            generator = next(
                t for t in loader.dataset.pipeline.transforms if isinstance(t, AMTMaskGenerator))
            extra = {} if self.panel_min_tile is None else dict(min_tile=self.panel_min_tile)
            runner.visualizer.add_refresh_panels(runner.model, view, bank, generator,
                                                 completed_epoch, self.num_panels, **extra)
        return stats
