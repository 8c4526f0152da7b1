"""A run's attention bank: checked, made and attached to the training pipeline before training.

:func:`attach_bank` is what ``AttentionRefreshHook`` runs once, before the dataloader workers
start: the training set must be one plain data set whose pipeline carries maps to the token masks
(:func:`amt_transforms`), model and pipeline must agree on sizes (:func:`check_sizes`), and the
bank is made with the one record of how its maps are made (:func:`map_record`, with the
``map_norm`` of the pipeline's ``AMTMaskGenerator``), which resumes compare and tools read.
"""
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.dataset import BaseDataset, Compose
from mmengine.dist import get_dist_info
from mmpretrain.utils import get_ori_model

from mmamt.datasets import AMTMaskGenerator, AttentionBank, LoadAttentionMap, dataset_identity
from mmamt.datasets.transforms import SampleNamingCompose
from mmamt.models.utils import build_map_source, describe_model, has_pixel_target
from mmamt.utils.amt_config import (MAP_LOADER, MASK_GENERATOR, REFRESH_HOOK, REFRESH_HOOK_KEY,
                                    TRAIN_PIPELINE, built_transforms, missing_transforms_message)
from .refresh import backbone_of

MAP_QUANTISATION = 'uint8, value / 255'


def map_record(model: nn.Module,
               map_norm: str,
               source=None,
               ema_momentum: Optional[float] = None) -> Dict:
    """How the maps of ``model`` are made: the ``maps`` entry of a bank's ``made_with``.

    ``source`` (the refresh hook's ``map_source``, checked against the model here) is
    recorded as :meth:`~mmamt.models.utils.MapSource.record` gives it: the refresh pass and the
    panels rebuild it from the record, and a resume with another source recomputes the maps.
    ``ema_momentum`` (the refresh from averaged weights) is recorded only when set, so records
    of refreshes from the weights themselves stay as they were.
    """
    backbone = backbone_of(model)
    source = build_map_source(source)
    source.check_model(get_ori_model(model))
    record = dict(
        source=source.record(),
        map_norm=map_norm,
        image_size=[int(v) for v in backbone.input_size],
        grid=[int(v) for v in backbone.patch_resolution],
        quantisation=MAP_QUANTISATION)
    if ema_momentum is not None:
        record['ema_momentum'] = float(ema_momentum)
    return record


def check_sizes(model: nn.Module, generator: AMTMaskGenerator) -> None:
    """Refuse a mask generator and model that disagree on sizes, naming the config keys.

    Mismatches train silently otherwise (the decoder uses a slice of its position embeddings,
    the bank has the wrong grid) or fail deep inside the model (``index 16 is out of bounds``
    in ``gather_tokens``). Only sizes fixed at construction are compared, so this costs
    nothing per step.

    Args:
        model (nn.Module): The AMT algorithm (wrapped or not).
        generator (AMTMaskGenerator): The training pipeline's mask generator.

    Raises:
        ValueError: Listing every mismatch found.
    """
    model = get_ori_model(model)
    backbone = backbone_of(model)
    img_h, img_w = (int(v) for v in backbone.input_size)
    stride = backbone.patch_embed.projection.stride
    patch = int(stride[0])
    num_patches = int(backbone.patch_resolution[0] * backbone.patch_resolution[1])
    problems = []
    if img_h != img_w or stride[0] != stride[1]:
        problems.append(f'model.backbone.img_size={(img_h, img_w)} and patch_size='
                        f'{tuple(stride)} must be square for {MASK_GENERATOR}')
    if generator.input_size != img_h:
        problems.append(f'{TRAIN_PIPELINE} {MASK_GENERATOR}.input_size={generator.input_size} '
                        f'but model.backbone.img_size={img_h}')
    if generator.model_patch_size != patch:
        problems.append(f'{TRAIN_PIPELINE} {MASK_GENERATOR}.model_patch_size='
                        f'{generator.model_patch_size} but model.backbone.patch_size={patch}')
    neck, head = getattr(model, 'neck', None), getattr(model, 'head', None)
    if getattr(neck, 'num_patches', num_patches) != num_patches:
        problems.append(f'model.neck.num_patches={neck.num_patches} but model.backbone '
                        f'(img_size={img_h}, patch_size={patch}) has {num_patches} patches')
    if getattr(neck, 'encoder_stride', patch) != patch:
        problems.append(f'model.neck.encoder_stride={neck.encoder_stride} but '
                        f'model.backbone.patch_size={patch}')
    if getattr(head, 'patch_size', patch) != patch:
        problems.append(f'model.head.patch_size={head.patch_size} but '
                        f'model.backbone.patch_size={patch}')
    if problems:
        raise ValueError(f'{REFRESH_HOOK}: sizes disagree: ' + '; '.join(problems) +
                         '. Set them all from one img_size and patch_size.')


def amt_transforms(dataset) -> Tuple[List[LoadAttentionMap], AMTMaskGenerator]:
    """The training set's ``LoadAttentionMap`` transforms and its (first) ``AMTMaskGenerator``.

    Raises:
        TypeError: If ``dataset`` is a dataset wrapper (or no mmengine ``BaseDataset``).
        ValueError: If the pipeline lacks either transform.
    """
    if not isinstance(dataset, BaseDataset):
        # Wrappers renumber samples (ConcatDataset restarts sample_idx per part, RepeatDataset
        # repeats it), so one map per sample_idx would be ambiguous.
        raise TypeError(f'{REFRESH_HOOK} needs train_dataloader.dataset to be an mmengine '
                        f'BaseDataset (got {type(dataset).__name__}); wrapped datasets are not '
                        'supported: list all images in one ann_file instead')
    loaders = built_transforms(dataset, MAP_LOADER)
    generators = built_transforms(dataset, MASK_GENERATOR)
    missing = [
        name for name, found in ((MAP_LOADER, loaders), (MASK_GENERATOR, generators)) if not found
    ]
    if missing:
        raise ValueError(f'{REFRESH_HOOK}: ' + missing_transforms_message(missing))
    return loaders, generators[0]


def attach_bank(model: nn.Module,
                dataloader,
                map_source=None,
                ema_momentum: Optional[float] = None) -> Tuple[AttentionBank, AMTMaskGenerator]:
    """Check model and pipeline, make the run's bank and attach it to the pipeline.

    The bank's ``made_with`` records the maps (:func:`map_record`), the model's settings by
    config key (:func:`~mmamt.models.utils.describe_model`) and the run (world size, epoch
    length). The pipeline becomes a ``SampleNamingCompose``, so that errors of the loading
    transforms name the sample and its file.

    Args:
        model (nn.Module): The AMT algorithm (wrapped or not).
        dataloader (DataLoader): The training dataloader, built.
        map_source (dict | str, optional): The refresh hook's map source. Defaults to None
            (the last-layer [CLS] attention).
        ema_momentum (float, optional): The refresh hook's ``ema_momentum``. Defaults to None.

    Returns:
        tuple[AttentionBank, AMTMaskGenerator]: The bank (uniform, AMT inactive) and the
        pipeline's mask generator.
    """
    dataset = dataloader.dataset
    loaders, generator = amt_transforms(dataset)
    check_sizes(model, generator)
    model = get_ori_model(model)
    made_with = dict(
        maps=map_record(model, generator.map_norm, map_source, ema_momentum),
        model=describe_model(model),
        run=dict(world_size=get_dist_info()[1], iters_per_epoch=len(dataloader)))
    bank = AttentionBank(
        len(dataset), tuple(backbone_of(model).patch_resolution), dataset_identity(dataset),
        made_with)
    for t in loaders:
        t.attach(bank)
    if type(dataset.pipeline) is Compose:
        dataset.pipeline = SampleNamingCompose(dataset.pipeline.transforms)
    return bank, generator


def check_panels(num_panels: int, visualizer, model: nn.Module) -> None:
    """Refuse refresh panels that could not be drawn, before training starts.

    Raises:
        ValueError: If ``num_panels`` > 0 and the visualizer is not an ``AMTVisualizer`` or the
            model predicts no pixels (MaskFeat's HOG, EVA's teacher features).
    """
    if not num_panels:
        return
    if not hasattr(visualizer, 'add_refresh_panels'):
        raise ValueError(f'{REFRESH_HOOK}: num_panels={num_panels} needs the runner\'s '
                         f'visualizer to be an AMTVisualizer, got {type(visualizer).__name__}: '
                         "set visualizer=dict(type='AMTVisualizer', vis_backends=[...]) or "
                         'num_panels=0')
    if not has_pixel_target(model):
        raise ValueError(f'{REFRESH_HOOK}: num_panels={num_panels} draws pixel '
                         f'reconstructions, and {type(model).__name__} predicts no pixels: set '
                         f'default_hooks.{REFRESH_HOOK_KEY}.num_panels=0')
