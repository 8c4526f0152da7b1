"""The AMT attention loop: refresh every training sample's map on a schedule."""
import copy
import os.path as osp
import time
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dataset import BaseDataset, Compose, default_collate
from mmengine.dist import all_gather, get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.runner import BaseLoop
from mmengine.runner.amp import autocast
from mmpretrain.registry import HOOKS, TRANSFORMS
from mmpretrain.utils import get_ori_model, track_on_main_process
from torch.utils.data import DataLoader

from mmamt.datasets import AMTMaskGenerator, AttentionBank, LoadAttentionMap, dataset_identity
from mmamt.datasets.transforms import SampleNamingCompose, refresh_view_transforms
from mmamt.models.utils import MAP_NORMS, describe_model
from mmamt.utils import eval_mode
from mmamt.visualization import AMTVisualizer
from mmamt.visualization.panel import MIN_TILE
from .resume_checks import check_same_model, warn_epoch_length

BANK_KEY = 'amt_bank'


def find_transforms(dataset, cls) -> List:
    """All transforms of type ``cls`` in a dataset's pipeline."""
    return [t for t in getattr(dataset.pipeline, 'transforms', []) if isinstance(t, cls)]


@HOOKS.register_module()
class AttentionRefreshHook(Hook):
    """Refresh the AMT attention bank on a schedule, and keep it across resumes.

    After epoch ``start_epoch`` (counting completed epochs) and every ``interval`` epochs after
    it, but never after the last epoch, the hook runs a no-grad pass over the whole training set
    with a deterministic view (the full image resized to the model's input size, no crop or
    flip, the training normalisation) and writes each sample's last-layer [CLS] attention map
    into the bank. From then on AMT masking and throwing is active. With DDP each rank computes
    ``sample_idx = rank, rank + world, ...`` and every rank ends with the identical full bank.

    The bank lives in shared memory attached to the pipeline's ``LoadAttentionMap`` before the
    dataloader workers start, so persistent workers read the new maps the epoch after a refresh.
    It is saved into every checkpoint (``checkpoint['amt_bank']``, one byte per patch) and
    restored on resume, flag included; after each refresh it is also written atomically to
    ``work_dir/amt_bank/epoch_<e>.pth``. The bank records an identity of the training set
    (:func:`~mmamt.datasets.dataset_identity`); a checkpoint whose bank belongs to other data
    (images added, removed, renamed or reordered) is resumed with uniform maps and a warning. On
    resume, a scheduled refresh that has not run for the resumed model (e.g. the run was extended
    past its old last epoch, or the maps were discarded) runs before training continues.

    Before training, the hook checks that the mask generator, backbone, neck and head agree on
    the input size, patch size and number of patches, and names the config keys that differ.

    Args:
        start_epoch (int): Completed epochs before the first refresh. Defaults to 40.
        interval (int): Epochs between refreshes. Defaults to 40.
        batch_size (int, optional): Batch size of the refresh pass. Defaults to the training
            batch size.
        num_workers (int, optional): Workers of the refresh pass. Defaults to the training
            dataloader's.
        pipeline (list[dict], optional): The deterministic view. Defaults to the training
            pipeline's loading steps (those before ``LoadAttentionMap``), then
            ``Resize(scale=input size, bicubic)`` and ``PackInputs``.
        save_bank (bool): Write the bank to ``work_dir/amt_bank/`` after each refresh.
            Defaults to True.
        num_panels (int): After each refresh, the runner's visualizer (which must then be an
            ``AMTVisualizer``) draws AMT panels of training samples ``0 .. num_panels - 1`` in
            the refresh view with their new maps (image, attention, the token mask the training
            pipeline's ``AMTMaskGenerator`` draws, seeded per sample, and the reconstruction),
            as ``amt_<sample_idx>`` at step ``epoch``. Only the main process draws. Defaults to
            0 (none).
        panel_min_tile (int): Smallest panel tile side in pixels. Defaults to 224.
        map_norm (str): How the per-head attention becomes the map:
            ``'minmax'`` (the reference: each head min-max normalised, then averaged, so every
            map spans [0, 1] however flat the attention) or ``'max'`` (the head-averaged
            attention probabilities divided by their maximum: sampling weights proportional to
            the attention, so a flat attention steers little). See
            :func:`mmamt.models.utils.normalize_attention`. Defaults to ``'minmax'``.
        enable (bool): False turns the attention loop off (no bank, no refresh), as
            ``VisualizationHook(enable=False)`` does for drawing: how a baseline derived from an
            AMT config drops it, ``default_hooks = dict(amt_refresh=dict(enable=False))``
            (mmengine accepts ``None`` only for its own default hooks). Defaults to True.
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
                 panel_min_tile: int = MIN_TILE,
                 map_norm: str = 'minmax',
                 enable: bool = True) -> None:
        if int(start_epoch) != start_epoch or start_epoch < 1:
            raise ValueError(f'AttentionRefreshHook: start_epoch={start_epoch} must be an '
                             'integer >= 1')
        if int(interval) != interval or interval < 1:
            raise ValueError(f'AttentionRefreshHook: interval={interval} must be an integer >= 1')
        if batch_size is not None and batch_size < 1:
            raise ValueError(f'AttentionRefreshHook: batch_size={batch_size} must be >= 1')
        self.start_epoch = int(start_epoch)
        self.interval = int(interval)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pipeline = pipeline
        self.save_bank = save_bank
        for name, value, low in (('num_panels', num_panels, 0),
                                 ('panel_min_tile', panel_min_tile, 1)):
            if int(value) != value or value < low:
                raise ValueError(f'AttentionRefreshHook: {name}={value} must be an integer '
                                 f'>= {low}')
        self.num_panels = int(num_panels)
        self.panel_min_tile = int(panel_min_tile)
        if map_norm not in MAP_NORMS:
            raise ValueError(f'AttentionRefreshHook: map_norm={map_norm!r} must be one of '
                             f'{MAP_NORMS}')
        self.map_norm = map_norm
        self.enable = bool(enable)
        self.bank: Optional[AttentionBank] = None
        self.last_refresh_writes = 0

    # -- schedule ----------------------------------------------------------------------------
    def refresh_epochs(self, max_epochs: int) -> List[int]:
        """Completed-epoch counts after which a refresh runs."""
        return list(range(self.start_epoch, max_epochs, self.interval))

    def should_refresh(self, completed: int, max_epochs: int) -> bool:
        return (completed >= self.start_epoch and completed < max_epochs
                and (completed - self.start_epoch) % self.interval == 0)

    # -- bank life cycle ---------------------------------------------------------------------
    @staticmethod
    def _backbone(runner):
        model = get_ori_model(runner.model)
        backbone = getattr(model, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'attention_map'):
            raise TypeError('AttentionRefreshHook needs a model whose backbone has '
                            '`attention_map` (AMTMAEViT, AMTSimMIMViT)')
        return backbone

    def _ensure_bank(self, runner) -> AttentionBank:
        if self.bank is not None:
            return self.bank
        if not isinstance(runner._train_loop, BaseLoop):
            raise RuntimeError('AttentionRefreshHook works in training runs only')
        dataset = runner.train_dataloader.dataset
        if not isinstance(dataset, BaseDataset):
            # Wrappers renumber samples (ConcatDataset restarts sample_idx per part, RepeatDataset
            # repeats it), so one map per sample_idx would be ambiguous.
            raise TypeError('AttentionRefreshHook needs train_dataloader.dataset to be an mmengine '
                            f'BaseDataset (got {type(dataset).__name__}); wrapped datasets are not '
                            'supported: list all images in one ann_file instead')
        loaders = find_transforms(dataset, LoadAttentionMap)
        if not loaders:
            raise ValueError('AttentionRefreshHook: train_dataloader.dataset.pipeline has no '
                             'LoadAttentionMap; put it right after LoadImageFromFile')
        if not find_transforms(dataset, AMTMaskGenerator):
            raise ValueError('AttentionRefreshHook: train_dataloader.dataset.pipeline has no '
                             'AMTMaskGenerator, so the maps it computes would never reach the '
                             'token masks; add it (see configs/_base_/amt_mae_pipeline.py) or set '
                             'default_hooks.amt_refresh.enable=False to train without AMT')
        self.check_sizes(runner, dataset)
        self.bank = AttentionBank(len(dataset), tuple(self._backbone(runner).patch_resolution),
                                  dataset_identity(dataset), self.made_with(runner))
        for t in loaders:
            t.attach(self.bank)
        if type(dataset.pipeline) is Compose:
            # errors of the loading transforms then name the sample and its file
            dataset.pipeline = SampleNamingCompose(dataset.pipeline.transforms)
        return self.bank

    def made_with(self, runner) -> Dict:
        """The record saved with the bank: how its maps are made, by which model, in which run."""
        backbone = self._backbone(runner)
        maps = dict(source='last-layer [CLS] attention, heads averaged', map_norm=self.map_norm,
                    image_size=[int(v) for v in backbone.input_size],
                    grid=[int(v) for v in backbone.patch_resolution],
                    quantisation='uint8, value / 255')
        run = dict(world_size=get_dist_info()[1], iters_per_epoch=len(runner.train_dataloader))
        return dict(maps=maps, model=describe_model(get_ori_model(runner.model)), run=run)

    def check_sizes(self, runner, dataset) -> None:
        """Refuse a pipeline and model that disagree on sizes, naming the config keys.

        Mismatches train silently otherwise (the decoder uses a slice of its position
        embeddings, the bank has the wrong grid) or fail deep inside the model
        (``index 16 is out of bounds`` in ``gather_tokens``). Only sizes fixed at construction
        are compared, so this costs nothing per step.

        Raises:
            ValueError: Listing every mismatch found.
        """
        model = get_ori_model(runner.model)
        backbone = self._backbone(runner)
        img_h, img_w = (int(v) for v in backbone.input_size)
        stride = backbone.patch_embed.projection.stride
        patch = int(stride[0])
        num_patches = int(backbone.patch_resolution[0] * backbone.patch_resolution[1])
        model_text = f'model.backbone (img_size={img_h}, patch_size={patch})'
        problems = []
        if img_h != img_w or stride[0] != stride[1]:
            problems.append(f'model.backbone.img_size={(img_h, img_w)} and patch_size='
                            f'{tuple(stride)} must be square for AMTMaskGenerator')
        for gen in find_transforms(dataset, AMTMaskGenerator):
            if gen.input_size != img_h:
                problems.append(f'train_dataloader.dataset.pipeline AMTMaskGenerator.input_size='
                                f'{gen.input_size} but model.backbone.img_size={img_h}')
            if gen.model_patch_size != patch:
                problems.append('train_dataloader.dataset.pipeline AMTMaskGenerator.'
                                f'model_patch_size={gen.model_patch_size} but '
                                f'model.backbone.patch_size={patch}')
        neck = getattr(model, 'neck', None)
        if neck is not None and hasattr(neck, 'num_patches') and neck.num_patches != num_patches:
            problems.append(f'model.neck.num_patches={neck.num_patches} but {model_text} has '
                            f'{num_patches} patches')
        if (neck is not None and hasattr(neck, 'encoder_stride')
                and neck.encoder_stride != patch):
            problems.append(f'model.neck.encoder_stride={neck.encoder_stride} but '
                            f'model.backbone.patch_size={patch}')
        head = getattr(model, 'head', None)
        if head is not None and hasattr(head, 'patch_size') and head.patch_size != patch:
            problems.append(f'model.head.patch_size={head.patch_size} but '
                            f'model.backbone.patch_size={patch}')
        if problems:
            raise ValueError('AttentionRefreshHook: sizes disagree: ' + '; '.join(problems) +
                             '. Set them all from one img_size and patch_size.')

    def check_panels(self, runner) -> None:
        """``num_panels`` needs an ``AMTVisualizer`` and a model that reconstructs."""
        if not self.num_panels:
            return
        if not isinstance(runner.visualizer, AMTVisualizer):
            raise ValueError(
                f'AttentionRefreshHook: num_panels={self.num_panels} needs the runner\'s '
                f'visualizer to be an AMTVisualizer, got {type(runner.visualizer).__name__}: set '
                "visualizer=dict(type='AMTVisualizer', vis_backends=[...]) or num_panels=0")
        if not hasattr(get_ori_model(runner.model), 'predict_patches'):
            raise ValueError(f'AttentionRefreshHook: num_panels={self.num_panels} needs MAEAMT or '
                             f'SimMIMAMT, got {type(get_ori_model(runner.model)).__name__}')
        if not find_transforms(runner.train_dataloader.dataset, AMTMaskGenerator):
            raise ValueError(f'AttentionRefreshHook: num_panels={self.num_panels} draws the '
                             'token masks of the AMTMaskGenerator in '
                             'train_dataloader.dataset.pipeline, which has none')

    def before_run(self, runner) -> None:
        if not self.enable:
            return
        if isinstance(runner._train_loop, BaseLoop):
            self._ensure_bank(runner)
            self.check_panels(runner)
            max_epochs = getattr(runner.train_loop, 'max_epochs', None)
            if max_epochs is None:
                raise TypeError('AttentionRefreshHook needs an epoch-based train loop')
            epochs = self.refresh_epochs(max_epochs)
            if epochs:
                shown = ', '.join(map(str, epochs[:6])) + (', ...' if len(epochs) > 6 else '')
                runner.logger.info(f'AMT: {len(self.bank)} attention maps of {self.bank.grid}; '
                                   f'refresh after epochs {shown}')
            else:
                runner.logger.info('AMT: no refresh within max_epochs: AMT never starts (plain '
                                   'random masking throughout)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enable:
            return
        if self.bank is not None:
            checkpoint[BANK_KEY] = self.bank.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.enable:
            return
        if not isinstance(runner._train_loop, BaseLoop):
            return
        bank = self._ensure_bank(runner)
        if BANK_KEY not in checkpoint:
            runner.logger.warning('AMT: the checkpoint has no attention bank; maps start uniform '
                                  'and AMT inactive until a refresh (before training continues '
                                  'if one was due)')
            return
        saved = checkpoint[BANK_KEY]
        # Runs before mmengine loads any weight: a changed model is refused by name instead of
        # failing inside AdamW, or (num_heads) resuming silently with other weights' meaning.
        check_same_model(saved, checkpoint.get('state_dict') or {}, get_ori_model(runner.model))
        warn_epoch_length(runner, saved.get('made_with', {}).get('run'),
                          bank.made_with.get('run', {}))
        mismatch = bank.data_mismatch(saved)
        if mismatch is not None:
            # The maps are a function of the model and the data: recomputing them from the
            # resumed model is sound, reusing them would give samples their neighbours' maps.
            runner.logger.warning(
                f'AMT: the attention bank in the checkpoint belongs to other training data '
                f'({mismatch}); its maps are discarded: maps start uniform and AMT inactive until '
                'a refresh (before training continues if one was due)')
            return
        changes = bank.map_changes(saved)
        if changes:
            runner.logger.warning(
                f'AMT: the attention maps in the checkpoint were made differently '
                f'({"; ".join(changes)}); they are discarded and recomputed with the '
                'current settings by a refresh before training continues if one was due '
                '(until then maps are uniform and AMT inactive)')
            return
        if changes is None:
            runner.logger.warning('AMT: the attention bank in the checkpoint records no map '
                                  'settings (saved by an older mmamt); assuming they are unchanged')
        if saved.get('data_id') is None:
            runner.logger.warning('AMT: the attention bank in the checkpoint records no data '
                                  'identity (saved by an older mmamt); assuming the training set '
                                  'is unchanged')
        bank.load_state_dict(saved)
        runner.logger.info(f'AMT: restored the attention bank (active={bank.active}, last refresh '
                           f'after epoch {bank.last_refresh_epoch})')

    def due_refresh(self, completed: int, max_epochs: int) -> Optional[int]:
        """The latest scheduled refresh at or before ``completed`` epochs, if any."""
        due = [e for e in self.refresh_epochs(max_epochs) if e <= completed]
        return due[-1] if due else None

    def before_train(self, runner) -> None:
        """On resume, run a scheduled refresh that the resumed bank has not seen."""
        if not self.enable:
            return
        completed = runner.epoch
        due = self.due_refresh(completed, runner.max_epochs)
        if self.bank is None or due is None or self.bank.last_refresh_epoch >= due:
            return
        runner.logger.info(f'AMT: the refresh scheduled after epoch {due} has not run for this '
                           f'model (last refresh: {self.bank.last_refresh_epoch}); running it '
                           f'now, before epoch {completed + 1}')
        self.refresh(runner, completed)

    # -- refresh -----------------------------------------------------------------------------
    def after_train_epoch(self, runner) -> None:
        if not self.enable:
            return
        completed = runner.epoch + 1
        if self.should_refresh(completed, runner.max_epochs):
            self.refresh(runner, completed)
            if self.num_panels and is_main_process():
                self.draw_panels(runner, completed)

    @torch.no_grad()
    def draw_panels(self, runner, epoch: int) -> None:
        """Panels of samples ``0 .. num_panels - 1`` with the bank's current maps."""
        indices = list(range(min(self.num_panels, len(self.bank))))
        model = get_ori_model(runner.model)
        # The very view the bank's maps were computed on.
        dataset = self.refresh_dataset(runner, model.backbone)
        batch = default_collate([dataset[i] for i in indices])
        inputs = model.data_preprocessor(batch, False)['inputs']
        maps = np.stack([self.bank.get(i) for i in indices])
        generator = find_transforms(runner.train_dataloader.dataset, AMTMaskGenerator)[0]
        runner.visualizer.add_amt_panels(model, generator, inputs, maps, indices, epoch,
                                         min_tile=self.panel_min_tile,
                                         num_refreshes=self.bank.num_refreshes)

    def refresh_dataset(self, runner, backbone) -> BaseDataset:
        """The training set with the deterministic view pipeline (shares the data list)."""
        dataset = runner.train_dataloader.dataset
        if self.pipeline is None:
            transforms = refresh_view_transforms(dataset.pipeline.transforms,
                                                 backbone.input_size)
        else:
            transforms = [TRANSFORMS.build(copy.deepcopy(t)) if isinstance(t, dict) else t
                          for t in self.pipeline]
        view = copy.copy(dataset)
        view.pipeline = SampleNamingCompose(transforms)
        return view

    @staticmethod
    def _autocast(runner):
        """The training's mixed precision for the refresh pass (the softmax stays float32)."""
        wrapper = getattr(runner, 'optim_wrapper', None)
        if isinstance(wrapper, AmpOptimWrapper):
            return autocast(dtype=wrapper.cast_dtype)
        return nullcontext()

    @torch.no_grad()
    def compute_maps(self, runner, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Maps of the given samples with the deterministic view, ``(n,)`` and ``(n, h, w)``."""
        model = get_ori_model(runner.model)
        backbone = self._backbone(runner)
        dataset = self.refresh_dataset(runner, backbone)
        train_loader = runner.train_dataloader
        loader = DataLoader(
            dataset,
            batch_size=self.batch_size or train_loader.batch_size,
            sampler=list(indices),
            num_workers=train_loader.num_workers if self.num_workers is None
            else self.num_workers,
            collate_fn=default_collate)
        out_idx, out_maps = [], []
        with eval_mode(model):
            # rich: a bar on a terminal, a single line in a non-interactive log (mmengine's
            # ProgressBar wrote every update into the log file).
            for batch in track_on_main_process(loader, 'AMT refresh', total=len(loader)):
                data = model.data_preprocessor(batch, False)
                with self._autocast(runner):
                    maps = backbone.attention_map(data['inputs'], self.map_norm)
                out_maps.append((maps.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu())
                out_idx.append(torch.tensor([int(s.sample_idx) for s in data['data_samples']]))
        grid = self.bank.grid
        if not out_idx:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, *grid, dtype=torch.uint8)
        return torch.cat(out_idx), torch.cat(out_maps)

    def _gather(self, idx: torch.Tensor, maps: torch.Tensor, share: int, device
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """All ranks' shares, padded to ``share`` rows (index -1) for all_gather."""
        n = idx.numel()
        pad_idx = torch.full((share,), -1, dtype=torch.long)
        pad_idx[:n] = idx
        pad_maps = torch.zeros(share, *self.bank.grid, dtype=torch.uint8)
        pad_maps[:n] = maps
        all_idx = torch.cat([t.cpu() for t in all_gather(pad_idx.to(device))])
        all_maps = torch.cat([t.cpu() for t in all_gather(pad_maps.to(device))])
        keep = all_idx >= 0
        return all_idx[keep], all_maps[keep]

    def refresh(self, runner, completed_epoch: int) -> Dict[str, float]:
        """Recompute every map, switch AMT on and log one summary line."""
        bank = self._ensure_bank(runner)
        rank, world = get_dist_info()
        n = len(bank)
        # Our own strided split: no sampler padding, so no sample is computed or counted twice.
        mine = list(range(rank, n, world))
        start = time.perf_counter()
        runner.logger.info(f'AMT: refreshing {n} attention maps after epoch {completed_epoch}')
        idx, maps = self.compute_maps(runner, mine)
        device = next(self._backbone(runner).parameters()).device
        if world > 1:
            share = (n + world - 1) // world
            idx, maps = self._gather(idx, maps, share, device)
        counts = torch.bincount(idx, minlength=n)
        if idx.numel() != n or (counts != 1).any():
            raise RuntimeError(f'AMT refresh wrote {idx.numel()} maps for {n} samples '
                               f'({int((counts == 0).sum())} missing, '
                               f'{int((counts > 1).sum())} duplicated)')
        bank.update(idx, maps)
        bank.mark_refreshed(completed_epoch)
        self.last_refresh_writes = int(idx.numel())
        elapsed = time.perf_counter() - start
        stats = bank.statistics()
        stats.update(seconds=elapsed, img_per_s=n / max(elapsed, 1e-9))
        runner.logger.info(
            f'AMT refresh after epoch {completed_epoch}: {n} maps in {elapsed:.1f}s '
            f'({stats["img_per_s"]:.1f} img/s); map mean {stats["mean"]:.3f}, '
            f'std {stats["std"]:.3f}, entropy {stats["entropy"]:.3f}; AMT masking and throwing '
            f'active from epoch {completed_epoch + 1}')
        if self.save_bank and rank == 0:
            bank.save(osp.join(runner.work_dir, 'amt_bank', f'epoch_{completed_epoch}.pth'))
        return stats
