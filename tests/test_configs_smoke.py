"""Every config under ``configs/`` (but ``_base_/``) trains, as ``tools/train.py`` builds it.

Each config is loaded as shipped and run by a real Runner on the synthetic data laid out as the
real data sets (``mmamt.testing.make_dataset_layouts``, so each config's own loader reads its own
format). What the test changes, and nothing else:

- the model: a tiny ViT of the same type, patch size and image size (2 layers, 32 channels), the
  necks and heads sized to it (Mask R-CNN's pyramid and heads at 16 channels), no pretrained
  checkpoint; EVA's CLIP teacher is a tiny random one (``mmamt.testing.tiny_teacher``);
- the loaders: batch 2, no workers, a dataset wrapper's repeats set to 1;
- the loop: 2 iterations (1 epoch of 4 images), or 2 epochs when the config has the attention
  loop, whose refresh hook then runs once, after epoch 1 (``start_epoch=1``), so the second
  epoch trains with AMT masking and throwing; validation and test loops run once, after training;
- ``AmpOptimWrapper`` becomes ``OptimWrapper`` on a machine without CUDA (on a GPU machine the
  same test runs the configs' AMP as shipped).

Pipelines, hooks, optimizer constructors, schedulers and evaluators run as shipped.
"""
import math
import os.path as osp
from pathlib import Path
from typing import List

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.runner import Runner

from mmamt.utils.amt_config import refresh_hook_cfg
from mmamt.utils.train_setup import setup_train_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'
CONFIGS = sorted(
    p.relative_to(ROOT).as_posix() for p in CONFIG_DIR.rglob('*.py')
    if '_base_' not in p.relative_to(CONFIG_DIR).parts)
#: The configs this session trained (conftest prints the count at the end of the run).
EXERCISED: List[str] = []

DIMS, LAYERS, HEADS = 32, 2, 2
TINY_VIT = dict(embed_dims=DIMS, num_layers=LAYERS, num_heads=HEADS, feedforward_channels=2 * DIMS)
MMPRETRAIN_VITS = ('MAEViT', 'AMTMAEViT', 'MILANViT', 'AMTSimMIMViT', 'VisionTransformer', 'MFFViT',
                   'AMTMFFViT', 'MaskFeatViT', 'AMTMaskFeatViT')


def _drop_pretrained(module: ConfigDict) -> None:
    init_cfg = module.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        module.init_cfg = None


def shrink_model(model: ConfigDict, work_dir: str) -> None:
    """A tiny model of the same types, patch and image size (see the module docstring)."""
    backbone = model.backbone
    kind = backbone.type
    if kind in MMPRETRAIN_VITS or kind == 'ViTDetBackbone':
        backbone.arch = dict(TINY_VIT)
        if 'MFF' in kind:  # the fused levels: both blocks
            backbone.out_indices = list(range(LAYERS))
        if backbone.get('frozen_stages', 0) > LAYERS:  # "all frozen" stays all frozen
            backbone.frozen_stages = LAYERS
        if kind == 'ViTDetBackbone':
            backbone.global_attn_indexes = (LAYERS - 1, )
    elif kind in ('MAE', 'MAEStrict'):  # mmseg's BEiT-style MAE backbone
        backbone.update(embed_dims=DIMS, num_layers=4, num_heads=HEADS, out_indices=[0, 1, 2, 3])
    else:
        raise KeyError(f'no tiny version of backbone {kind!r}: add a rule to shrink_model')
    _drop_pretrained(backbone)

    neck = model.get('neck')
    neck_kind = neck.type if neck else None
    if neck_kind in ('MAEPretrainDecoder', 'AMTMAEPretrainDecoder', 'MILANPretrainDecoder',
                     'AMTMILANPretrainDecoder'):
        neck.update(
            embed_dim=DIMS, decoder_embed_dim=DIMS, decoder_depth=1, decoder_num_heads=HEADS)
    elif neck_kind in ('AMTSimMIMLinearDecoder', 'LinearNeck'):
        neck.in_channels = DIMS
    elif neck_kind == 'ClsBatchNormNeck':
        neck.input_features = DIMS
    elif neck_kind == 'SimpleFPN':
        neck.update(backbone_channel=DIMS, in_channels=[DIMS // 4, DIMS // 2, DIMS, DIMS])
    elif neck_kind == 'Feature2Pyramid':
        neck.embed_dim = DIMS
    elif neck_kind is not None:
        raise KeyError(f'no tiny version of neck {neck_kind!r}: add a rule to shrink_model')

    teacher = model.get('target_generator')
    if teacher and teacher.type == 'FrozenViTTeacher':  # a self-made teacher, tiny and random
        from mmamt.testing.tiny_teacher import write_tiny_vit
        teacher.encoder.arch = dict(TINY_VIT)
        teacher.checkpoint = write_tiny_vit(osp.join(work_dir, 'vit_teacher.pth'), teacher.encoder)
        neck.predict_feature_dim = DIMS
    # no CLIP download: a tiny random teacher
    if teacher and teacher.type in ('CLIPGenerator', 'FrozenCLIPTeacher'):
        from mmamt.testing.tiny_teacher import write_tiny_clip
        img = backbone.get('img_size', 224)
        neck.predict_feature_dim = DIMS
        teacher.tokenizer_path = write_tiny_clip(
            osp.join(work_dir, 'tiny_clip.pth'),
            img,
            backbone.get('patch_size', 16),
            embed_dim=DIMS)

    if model.get('roi_head'):  # Mask R-CNN: the pyramid, RPN and RoI heads at 16 channels
        shrink_two_stage_detector(model)

    for key in ('head', 'decode_head', 'auxiliary_head'):
        head = model.get(key)
        if not head:
            continue
        if head.type in ('VisionTransformerClsHead', 'LinearClsHead'):
            head.in_channels = DIMS
        elif head.type == 'UPerHead':
            head.update(in_channels=[DIMS] * 4, channels=16)
        elif head.type == 'FCNHead':
            head.update(in_channels=DIMS, channels=16)


def shrink_two_stage_detector(model: ConfigDict, channels: int = 16) -> None:
    model.neck.out_channels = channels
    model.rpn_head.update(in_channels=channels, feat_channels=channels)
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = channels
    roi.bbox_head.update(
        in_channels=channels, conv_out_channels=channels, fc_out_channels=2 * channels)
    if roi.get('mask_head'):
        roi.mask_roi_extractor.out_channels = channels
        roi.mask_head.update(in_channels=channels, conv_out_channels=channels)


def shrink_loaders(cfg: Config) -> None:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not loader:
            continue
        loader.update(batch_size=2, num_workers=0, persistent_workers=False, pin_memory=False)
        if loader.dataset.type == 'RepeatDataset':
            loader.dataset.times = 1


def has_attention_loop(cfg: Config) -> bool:
    return refresh_hook_cfg(cfg) is not None


def shorten_loops(cfg: Config) -> None:
    train_cfg = cfg.train_cfg
    if train_cfg.get('type', 'EpochBasedTrainLoop') == 'IterBasedTrainLoop' or 'max_iters' in \
            train_cfg:
        train_cfg.update(max_iters=2, val_interval=3)
        return
    epochs = 2 if has_attention_loop(cfg) else 1
    train_cfg.update(max_epochs=epochs, val_interval=epochs + 1)
    if has_attention_loop(cfg):
        refresh_hook_cfg(cfg).update(start_epoch=1, interval=1)


def check_metrics(metrics: dict, evaluator) -> None:
    """The evaluator's metric values: present for top-1 and mIoU, finite percentages.

    An untrained detector finds nothing, and COCO metrics of nothing are {} (or -1): there,
    that the loop ran its evaluator is what counts.
    """
    types = {e['type'] for e in (evaluator if isinstance(evaluator, list) else [evaluator])}
    expected = {'Accuracy': 'accuracy/top1', 'IoUMetric': 'mIoU'}
    for name, key in expected.items():
        if name in types:
            assert key in metrics, (name, metrics)
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            assert math.isfinite(value) and -1 <= value <= 100, (key, value)


def amp_where_it_runs(cfg: Config) -> None:
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
        cfg.optim_wrapper.pop('dtype', None)


@pytest.fixture(scope='module')
def data_layouts(tmp_path_factory):
    from mmamt.testing import make_dataset_layouts
    return make_dataset_layouts(
        str(tmp_path_factory.mktemp('layouts') / 'data'), num_train=4, num_val=2)


@pytest.fixture
def in_data_parent(data_layouts, monkeypatch):
    """Run in the folder whose ``data/`` holds the layouts; CIFAR accepts the synthetic md5s."""
    from mmpretrain.datasets import CIFAR10, CIFAR100
    for cls, name in ((CIFAR10, 'cifar10'), (CIFAR100, 'cifar100')):
        md5 = data_layouts['cifar_md5'][name]
        monkeypatch.setattr(cls, 'train_list', [[f, md5[f]] for f, _ in cls.train_list])
        monkeypatch.setattr(cls, 'test_list', [[f, md5[f]] for f, _ in cls.test_list])
    monkeypatch.chdir(osp.dirname(data_layouts['data_dir']))


def test_every_config_is_collected():
    # Only configs train; README.md and metafile.yml beside them do not.
    files = [
        p for p in CONFIG_DIR.rglob('*.py')
        if p.is_file() and '_base_' not in p.relative_to(CONFIG_DIR).parts
    ]
    assert len(CONFIGS) == len(files) > 30


@pytest.mark.parametrize('path', CONFIGS)
def test_config_trains(path, in_data_parent, tmp_path):
    cfg = Config.fromfile(str(ROOT / path))
    shrink_model(cfg.model, str(tmp_path))
    shrink_loaders(cfg)
    shorten_loops(cfg)
    amp_where_it_runs(cfg)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.launcher = 'none'
    # What tools/train.py does after merging its options.
    runner = Runner.from_cfg(setup_train_config(cfg))
    runner.train()

    assert runner.iter == runner.train_loop.max_iters
    assert runner.iter >= 2
    losses = {
        k: v.current()
        for k, v in runner.message_hub.log_scalars.items() if k.startswith('train/') and 'loss' in k
    }
    assert losses and all(math.isfinite(v) for v in losses.values()), losses
    if has_attention_loop(cfg):
        # The refresh after epoch 1 wrote its bank; epoch 2 then trained with AMT masking.
        assert osp.isfile(osp.join(cfg.work_dir, 'amt_bank', 'epoch_1.pth'))
    if cfg.get('val_cfg') and cfg.get('val_dataloader'):
        check_metrics(runner.val(), cfg.val_evaluator)
    if cfg.get('test_cfg') and cfg.get('test_dataloader'):
        check_metrics(runner.test(), cfg.test_evaluator)
    EXERCISED.append(path)
