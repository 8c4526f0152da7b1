"""The refresh pass of the AMT attention loop, as plain functions.

A refresh runs the model, without gradients, over every training sample in a deterministic view
(the full image resized to the model input: :func:`refresh_view`), turns each sample's attention
into a map (:func:`compute_maps`; the last-layer [CLS] attention unless the bank records another
source of :mod:`mmamt.models.utils.map_sources`), gathers the ranks' shares under DDP and writes
the bank (:func:`refresh_bank`), with the map settings the bank records (made and attached by
:mod:`mmamt.engine.bank_setup`). ``AttentionRefreshHook`` decides *when*; the visualiser and the
benchmarks call the same functions, so a picture or a timing shows what training uses.
"""
import copy
import time
from contextlib import nullcontext
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.dataset import BaseDataset, default_collate
from mmengine.dist import all_gather, get_dist_info
from mmengine.optim import AmpOptimWrapper
from mmengine.runner.amp import autocast
from mmpretrain.registry import TRANSFORMS
from mmpretrain.utils import get_ori_model, track_on_main_process
from torch.utils.data import DataLoader

from mmamt.datasets import AttentionBank
from mmamt.datasets.transforms import SampleNamingCompose, refresh_view_transforms
from mmamt.models.utils import build_map_source
from mmamt.utils import eval_mode


def backbone_of(model: nn.Module) -> nn.Module:
    """The model's ViT backbone that gives attention maps (``AMTMAEViT``, ``AMTSimMIMViT``).

    Raises:
        TypeError: If the model has no such backbone.
    """
    backbone = getattr(get_ori_model(model), 'backbone', None)
    if backbone is None or not hasattr(backbone, 'attention_map'):
        raise TypeError('the AMT attention loop needs a model whose backbone has '
                        '`attention_map` (AMTMAEViT, AMTSimMIMViT)')
    return backbone


def refresh_view(dataset: BaseDataset,
                 input_size: Sequence[int],
                 pipeline: Optional[Sequence] = None) -> BaseDataset:
    """The training set in the deterministic refresh view (it shares the data list).

    Args:
        dataset (BaseDataset): The training set.
        input_size (Sequence[int]): ``(H, W)`` of the model input.
        pipeline (Sequence[dict | BaseTransform], optional): The view's transforms. Defaults to
            the training pipeline's loading steps, ``Resize`` to ``input_size`` and
            ``PackInputs`` (:func:`~mmamt.datasets.transforms.refresh_view_transforms`).
    """
    if pipeline is None:
        transforms = refresh_view_transforms(dataset.pipeline.transforms, input_size)
    else:
        transforms = [
            TRANSFORMS.build(copy.deepcopy(t)) if isinstance(t, dict) else t for t in pipeline
        ]
    view = copy.copy(dataset)
    view.pipeline = SampleNamingCompose(transforms)
    return view


@torch.no_grad()
def batch_maps(model: nn.Module,
               inputs: torch.Tensor,
               map_norm: str,
               amp: bool = False,
               amp_dtype: Optional[torch.dtype] = None,
               source=None) -> torch.Tensor:
    """The maps of one preprocessed batch exactly as the bank stores them, in eval mode.

    The one routine behind the refresh pass, the AMT panels and the refresh benchmark.

    Args:
        model (nn.Module): The AMT algorithm (wrapped or not).
        inputs (torch.Tensor): ``(B, 3, H, W)`` output of its data preprocessor.
        map_norm (str): See :func:`mmamt.models.utils.normalize_attention`.
        amp (bool): Run under mmengine's autocast, as an ``AmpOptimWrapper`` training does (the
            softmax stays float32). Defaults to False.
        amp_dtype (torch.dtype, optional): The autocast dtype (the wrapper's ``cast_dtype``).
            Defaults to None (autocast's default).
        source (MapSource | dict | str, optional): The map source
            (:func:`~mmamt.models.utils.build_map_source`; a bank's
            ``made_with['maps']['source']`` too). Defaults to None (the last-layer [CLS]
            attention).

    Returns:
        torch.Tensor: ``(B, h, w)`` uint8 maps on the CPU, ``round(255 * map)``.
    """
    model = get_ori_model(model)
    source = build_map_source(source)
    with eval_mode(model), (autocast(dtype=amp_dtype) if amp else nullcontext()):
        backbone_of(model)  # refuses a model without an AMT backbone
        maps = source.maps(model, inputs, map_norm)
    return (maps.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()


@torch.no_grad()
def compute_maps(model: nn.Module,
                 view: BaseDataset,
                 indices: Sequence[int],
                 batch_size: int,
                 map_norm: str,
                 num_workers: int = 0,
                 amp: bool = False,
                 amp_dtype: Optional[torch.dtype] = None,
                 source=None) -> Tuple[torch.Tensor, torch.Tensor]:
    """The uint8 maps of the given samples of ``view``, in eval mode.

    Args:
        model (nn.Module): The AMT algorithm (wrapped or not).
        view (BaseDataset): :func:`refresh_view` of the training set.
        indices (Sequence[int]): Sample indices to compute.
        batch_size (int): Images per forward pass.
        map_norm (str): See :func:`mmamt.models.utils.normalize_attention`.
        num_workers (int): Dataloader workers. Defaults to 0.
        amp (bool): Run under mmengine's autocast, as an ``AmpOptimWrapper`` training does (the
            softmax stays float32). Defaults to False.
        amp_dtype (torch.dtype, optional): The autocast dtype (the wrapper's ``cast_dtype``).
            Defaults to None (autocast's default).
        source (MapSource | dict | str, optional): See :func:`batch_maps`. Defaults to None.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``(n,)`` sample indices and ``(n, h, w)`` uint8 maps
        (``round(255 * map)``).
    """
    model = get_ori_model(model)
    backbone = backbone_of(model)
    source = build_map_source(source)
    loader = DataLoader(
        view,
        batch_size=batch_size,
        sampler=list(indices),
        num_workers=num_workers,
        collate_fn=default_collate)
    out_idx, out_maps = [], []
    # rich: a bar on a terminal, a single line in a non-interactive log
    for batch in track_on_main_process(loader, 'AMT refresh', total=len(loader)):
        data = model.data_preprocessor(batch, False)
        out_maps.append(batch_maps(model, data['inputs'], map_norm, amp, amp_dtype, source))
        out_idx.append(torch.tensor([int(s.sample_idx) for s in data['data_samples']]))
    if not out_idx:
        grid = tuple(int(v) for v in backbone.patch_resolution)
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, *grid, dtype=torch.uint8)
    return torch.cat(out_idx), torch.cat(out_maps)


def gather_maps(idx: torch.Tensor, maps: torch.Tensor, share: int,
                device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every rank's maps on every rank: shares padded to ``share`` rows (index -1), gathered."""
    pad_idx = torch.full((share, ), -1, dtype=torch.long)
    pad_idx[:idx.numel()] = idx
    pad_maps = torch.zeros(share, *maps.shape[1:], dtype=torch.uint8)
    pad_maps[:idx.numel()] = maps
    all_idx = torch.cat([t.cpu() for t in all_gather(pad_idx.to(device))])
    all_maps = torch.cat([t.cpu() for t in all_gather(pad_maps.to(device))])
    keep = all_idx >= 0
    return all_idx[keep], all_maps[keep]


def refresh_bank(model: nn.Module,
                 view: BaseDataset,
                 bank: AttentionBank,
                 completed_epoch: int,
                 batch_size: int,
                 num_workers: int = 0,
                 amp: bool = False,
                 amp_dtype: Optional[torch.dtype] = None) -> Dict[str, float]:
    """Recompute every map of ``bank`` and switch AMT on.

    The map settings (``map_norm`` and the map ``source``) come from the bank's own record
    (``bank.made_with['maps']``). With DDP each
    rank computes ``sample_idx = rank, rank + world, ...`` (no sampler padding, so no sample is
    computed twice) and every rank ends with the identical full bank.

    Returns:
        dict: The bank's :meth:`~AttentionBank.statistics`, ``seconds``, ``img_per_s`` and
        ``writes`` (maps written).

    Raises:
        RuntimeError: If a sample got no map or two.
    """
    rank, world = get_dist_info()
    n = len(bank)
    start = time.perf_counter()
    record = bank.made_with['maps']
    idx, maps = compute_maps(model, view, range(rank, n, world), batch_size, record['map_norm'],
                             num_workers, amp, amp_dtype, record.get('source'))
    if world > 1:
        device = next(backbone_of(model).parameters()).device
        idx, maps = gather_maps(idx, maps, (n + world - 1) // world, device)
    counts = torch.bincount(idx, minlength=n)
    if idx.numel() != n or (counts != 1).any():
        raise RuntimeError(f'AMT refresh wrote {idx.numel()} maps for {n} samples '
                           f'({int((counts == 0).sum())} missing, '
                           f'{int((counts > 1).sum())} duplicated)')
    bank.update(idx, maps)
    bank.mark_refreshed(completed_epoch)
    elapsed = time.perf_counter() - start
    return dict(
        bank.statistics(),
        seconds=elapsed,
        img_per_s=n / max(elapsed, 1e-9),
        writes=int(idx.numel()))


def autocast_of(optim_wrapper) -> Tuple[bool, Optional[torch.dtype]]:
    """``(amp, amp_dtype)`` for :func:`refresh_bank`: a refresh runs as the training step does."""
    amp = isinstance(optim_wrapper, AmpOptimWrapper)
    return amp, optim_wrapper.cast_dtype if amp else None


def refresh_summary(stats: Dict[str, float], completed_epoch: int) -> str:
    """The log line of a refresh from :func:`refresh_bank`'s ``stats``."""
    return (f'AMT refresh after epoch {completed_epoch}: {stats["writes"]} maps in '
            f'{stats["seconds"]:.1f}s ({stats["img_per_s"]:.1f} img/s); map mean '
            f'{stats["mean"]:.3f}, std {stats["std"]:.3f}, entropy {stats["entropy"]:.3f}; AMT '
            f'masking and throwing active from epoch {completed_epoch + 1}')


def schedule_summary(bank: AttentionBank, epochs: Sequence[int]) -> str:
    """The log line of a run's refresh schedule (``epochs``: completed-epoch counts)."""
    if not epochs:
        return ('AMT: no refresh within max_epochs: AMT never starts (plain random masking '
                'throughout)')
    shown = ', '.join(map(str, epochs[:6])) + (', ...' if len(epochs) > 6 else '')
    return f'AMT: {len(bank)} attention maps of {bank.grid}; refresh after epochs {shown}'
