"""Tests of the ViTDet-style Mask R-CNN parts mmamt registers into mmdet."""
import glob
import logging
import os.path as osp
from collections import OrderedDict
from contextlib import contextmanager

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.models.utils import LayerNorm2d

from mmamt.downstream.convert import convert_checkpoint
from mmamt.downstream.det import SimpleFPN, ViTDetBackbone, ViTLayerDecayOptimizerConstructor
from mmamt.downstream.keymap import KeyCoverageError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CFG = osp.join(REPO, 'configs', 'benchmarks', 'mmdet',
                    'mask-rcnn_vit-tiny_simplefpn_demo_synthetic.py')
MAIN_CFG = osp.join(REPO, 'configs', 'benchmarks', 'mmdet',
                    'mask-rcnn_vit-b-p16_simplefpn_lsj-100e_coco.py')
# The tiny MAE of the shared test convention (embed 64, 4 layers, 4 heads, img 64, patch 16),
# which is also the demo config's arch.
TINY = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)
MICRO = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def micro_backbone(**kwargs) -> ViTDetBackbone:
    cfg = dict(
        arch=MICRO,
        img_size=64,
        patch_size=16,
        pretrain_img_size=64,
        window_size=2,
        global_attn_indexes=(1, ),
        drop_path_rate=0.)
    cfg.update(kwargs)
    model = ViTDetBackbone(**cfg)
    model.init_weights()
    return model.eval()


@contextmanager
def captured_log():
    """Collect what mmengine's current logger writes."""
    from mmengine.logging import MMLogger
    records = []

    class _Keep(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = _Keep(level=logging.DEBUG)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# ---------------------------------------------------------------------------------------------
# Backbone
# ---------------------------------------------------------------------------------------------
def test_backbone_output_shape_at_two_sizes():
    model = micro_backbone()
    with torch.no_grad():
        out64 = model(torch.randn(2, 3, 64, 64))
        out_rect = model(torch.randn(1, 3, 96, 128))  # pos_embed resampled 4x4 -> 6x8
        out_odd = model(torch.randn(1, 3, 100, 70))  # padded to 112x80 by the patch embed
    assert isinstance(out64, tuple) and len(out64) == 1
    assert out64[0].shape == (2, 32, 4, 4)
    assert out_rect[0].shape == (1, 32, 6, 8)
    assert out_odd[0].shape == (1, 32, 7, 5)
    assert torch.isfinite(out_rect[0]).all()
    # pos_embed is stored at the pre-training grid with its class-token row.
    assert model.pos_embed.shape == (1, 1 + 16, 32)


def test_backbone_parameter_names_follow_mmpretrain():
    from mmpretrain.models import VisionTransformer
    ours = micro_backbone(layer_scale_init_value=0.1)
    ref = VisionTransformer(arch=MICRO, img_size=64, patch_size=16, layer_scale_init_value=0.1)
    ours_keys = {k for k in ours.state_dict() if 'rel_pos' not in k}
    ref_keys = set(ref.state_dict()) - {'cls_token'}
    assert ours_keys == ref_keys
    assert 'layers.0.attn.gamma1.weight' in ours_keys and 'layers.1.ffn.gamma2.weight' in ours_keys
    assert sum('rel_pos' in k for k in ours.state_dict()) == 2 * MICRO['num_layers']


def test_matches_mmpretrain_vit_when_global_with_zero_rel_pos():
    """All-global layers with zero rel-pos tables compute exactly a plain mmpretrain ViT."""
    from mmpretrain.models import VisionTransformer
    ref = VisionTransformer(
        arch=MICRO,
        img_size=64,
        patch_size=16,
        with_cls_token=False,
        out_type='featmap',
        final_norm=True)
    ref.init_weights()
    ref.eval()
    ours = micro_backbone(global_attn_indexes=(0, 1))
    report = ours.load_pretrained(ref.state_dict())  # pos_embed without class row: padded
    assert len(report.new) == 4 and report.dropped == {}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref(x)[0], rtol=1e-4, atol=1e-5)


def test_window_and_global_attention_differ():
    torch.manual_seed(0)
    windowed = micro_backbone(global_attn_indexes=(1, ), use_rel_pos=False)
    global_only = micro_backbone(global_attn_indexes=(0, 1), use_rel_pos=False)
    global_only.load_state_dict(windowed.state_dict())
    with torch.no_grad():
        # 8x8 grid, 2x2 windows: layer 0 attends differently.
        big = torch.randn(1, 3, 128, 128)
        assert not torch.allclose(windowed(big)[0], global_only(big)[0], atol=1e-4)
        # 2x2 grid = one window: both attend over the same tokens.
        small = torch.randn(1, 3, 32, 32)
        torch.testing.assert_close(windowed(small)[0], global_only(small)[0])


def test_windowed_layers_are_local():
    model = micro_backbone(global_attn_indexes=(), window_size=2)
    x = torch.randn(1, 3, 64, 64)
    x2 = x.clone()
    x2[:, :, :16, :16] += 1.0  # only patch (0, 0) changes
    with torch.no_grad():
        diff = (model(x)[0] - model(x2)[0]).abs().sum(1)[0]
    assert diff[:2, :2].min() > 0  # its window changes
    assert diff[2:, :].max() == 0 and diff[:, 2:].max() == 0  # nothing else does


def test_relative_positions_change_attention():
    model = micro_backbone()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0]
        for layer in model.layers:
            nn.init.normal_(layer.attn.rel_pos_h, std=0.5)
        after = model(x)[0]
    assert not torch.allclose(before, after, atol=1e-4)
    # Global layer: table sized for the 4x4 grid of img_size 64; windowed: for 2x2 windows.
    assert model.layers[1].attn.rel_pos_h.shape == (7, 16)
    assert model.layers[0].attn.rel_pos_w.shape == (3, 16)


def test_gradient_checkpointing_gives_same_gradients():
    torch.manual_seed(0)
    plain = micro_backbone(drop_path_rate=0.).train()
    ckpt = micro_backbone(drop_path_rate=0., with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    plain(x)[0].sum().backward()
    ckpt(x)[0].sum().backward()
    g1 = plain.layers[0].attn.qkv.weight.grad
    g2 = ckpt.layers[0].attn.qkv.weight.grad
    torch.testing.assert_close(g1, g2)


def test_backbone_rejects_bad_config():
    with pytest.raises(ValueError, match='global_attn_indexes'):
        ViTDetBackbone(arch=MICRO, global_attn_indexes=(2, ))
    with pytest.raises(ValueError, match='global_attn_indexes'):
        ViTDetBackbone(arch=MICRO)
    with pytest.raises(ValueError, match='arch'):
        ViTDetBackbone(arch='tiny')
    assert ViTDetBackbone(arch='b').global_attn_indexes == (2, 5, 8, 11)


# ---------------------------------------------------------------------------------------------
# Loading a converted pre-training checkpoint
# ---------------------------------------------------------------------------------------------
def _tiny_mae_checkpoint(path: str) -> dict:
    """Save a tiny mmpretrain MAE as a Runner does (config text in meta); return its state
    dict."""
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    torch.manual_seed(0)
    cfg = dict(
        type='MAE',
        backbone=dict(type='MAEViT', arch=TINY, img_size=64, patch_size=16),
        neck=dict(
            type='MAEPretrainDecoder',
            num_patches=16,
            patch_size=16,
            in_chans=3,
            embed_dim=64,
            decoder_embed_dim=32,
            decoder_depth=1,
            decoder_num_heads=4),
        head=dict(
            type='MAEPretrainHead',
            norm_pix=True,
            patch_size=16,
            loss=dict(type='PixelReconstructionLoss', criterion='L2')))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        mae = PRETRAIN_MODELS.build(cfg)
    mae.init_weights()
    state_dict = mae.state_dict()
    meta = {'epoch': 1, 'cfg': Config(dict(model=cfg)).pretty_text}
    torch.save({'meta': meta, 'state_dict': state_dict}, path)
    return state_dict


@pytest.fixture(scope='module')
def tiny_checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpt')
    src, dst = str(root / 'mae_tiny.pth'), str(root / 'mae_tiny_mmdet.pth')
    source = _tiny_mae_checkpoint(src)
    convert_checkpoint(src, dst, 'mmdet')
    return dict(src=src, dst=dst, source=source)


def tiny_backbone(**kwargs) -> ViTDetBackbone:
    cfg = dict(
        arch=TINY,
        img_size=128,
        patch_size=16,
        pretrain_img_size=64,
        window_size=4,
        global_attn_indexes=(1, 3),
        drop_path_rate=0.)
    cfg.update(kwargs)
    return ViTDetBackbone(**cfg)


def test_converted_checkpoint_loads_with_full_coverage(tiny_checkpoints):
    model = tiny_backbone(init_cfg=dict(type='Pretrained', checkpoint=tiny_checkpoints['dst']))
    with captured_log() as log:
        model.init_weights()
    # 4 layers x 12 + patch_embed 2 + pos_embed + final norm 2 = 53; 4 x 2 rel-pos tables.
    assert any('loaded 53/53 pre-trained tensors' in m and 'rel_pos_h x4, layers.N.attn.rel_pos_w'
               ' x4' in m for m in log), log
    source = tiny_checkpoints['source']
    own = model.state_dict()
    for key in ('pos_embed', 'patch_embed.projection.weight', 'layers.3.attn.qkv.weight',
                'layers.2.ffn.layers.0.0.bias', 'layers.1.ffn.layers.1.weight', 'ln1.weight'):
        torch.testing.assert_close(own[key], source['backbone.' + key])
    assert all(own[k].abs().sum() == 0 for k in own if 'rel_pos' in k)


def test_whole_model_checkpoint_loads_with_prefix(tiny_checkpoints):
    model = tiny_backbone()
    report = model.load_pretrained(tiny_checkpoints['src'], prefix='backbone.')
    assert list(report.dropped) == ['cls_token'] and len(report.used) == 53
    # Without the prefix every key is unused, and the error says what to do.
    with pytest.raises(KeyCoverageError, match='convert_amt.py'):
        tiny_backbone().load_pretrained(tiny_checkpoints['src'])


def test_pos_embed_of_another_pretrain_grid_is_resampled(tiny_checkpoints):
    model = tiny_backbone(pretrain_img_size=96)  # 6x6 grid, checkpoint has 4x4
    with captured_log() as log:
        report = model.load_pretrained(tiny_checkpoints['dst'])
    assert len(report.used) == 53
    assert model.pos_embed.shape == (1, 37, 64)
    assert any('pos_embed resampled from a 4x4 to the 6x6 grid' in m for m in log), log
    src = tiny_checkpoints['source']['backbone.pos_embed']
    torch.testing.assert_close(model.pos_embed[:, :1], src[:, :1])  # class row kept as is


def test_relative_position_tables_of_another_size_are_resampled():
    """A ViTDet state dict with other windows loads: the tables are resampled, not refused."""
    small = micro_backbone(window_size=2)  # windowed layer 0: tables of 2 * 2 - 1 offsets
    with torch.no_grad():
        small.layers[0].attn.rel_pos_h.normal_()
    big = micro_backbone(window_size=4)
    report = big.load_pretrained(small.state_dict())
    assert 'layers.0.attn.rel_pos_h' in report.used and not report.new
    table = big.layers[0].attn.rel_pos_h
    assert table.shape == (7, 16) and table.abs().sum() > 0


def test_renamed_missing_or_misshapen_key_raises(tiny_checkpoints):
    state = torch.load(tiny_checkpoints['dst'], map_location='cpu')['state_dict']
    renamed = OrderedDict(state)
    renamed['layers.0.norm1.weight'] = renamed.pop('layers.0.ln1.weight')
    with pytest.raises(KeyCoverageError) as err:
        tiny_backbone().load_pretrained(renamed)
    assert '1 missing, 1 unused' in str(err.value)
    assert 'MISSING: layers.0.ln1.weight' in str(err.value)
    assert 'UNUSED: layers.0.norm1.weight' in str(err.value)

    missing = OrderedDict(state)
    del missing['layers.2.ffn.layers.1.bias']
    with pytest.raises(KeyCoverageError, match='layers.2.ffn.layers.1.bias'):
        tiny_backbone().load_pretrained(missing)

    with pytest.raises(KeyCoverageError, match='wrong shape'):
        tiny_backbone(arch=dict(TINY, feedforward_channels=96)).load_pretrained(state)

    # A refused checkpoint leaves the model as it was: nothing is loaded half-way.
    model = tiny_backbone()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(KeyCoverageError):
        model.load_pretrained(missing)
    assert all(v.equal(before[k]) for k, v in model.state_dict().items())

    # Layer scale in the model but not in the checkpoint is missing, not silently new.
    with pytest.raises(KeyCoverageError, match='gamma1'):
        tiny_backbone(layer_scale_init_value=0.1).load_pretrained(state)


# ---------------------------------------------------------------------------------------------
# Neck and norm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('num_outs', [4, 5])
def test_simple_fpn_strides(num_outs):
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):  # as in an mmdet Runner
        fpn = MODELS.build(
            dict(
                type='SimpleFPN',
                backbone_channel=64,
                in_channels=[16, 32, 64, 64],
                out_channels=24,
                num_outs=num_outs,
                norm_cfg=dict(type='LN2d')))
    fpn.init_weights()
    with torch.no_grad():
        outs = fpn((torch.randn(2, 64, 8, 8), ))
        odd = fpn((torch.randn(1, 64, 7, 5), ))
    sizes = [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)][:num_outs]
    assert [tuple(o.shape) for o in outs] == [(2, 24) + s for s in sizes]
    assert [tuple(o.shape[2:]) for o in odd] == [(28, 20), (14, 10), (7, 5), (3, 2),
                                                 (2, 1)][:num_outs]
    assert isinstance(fpn.lateral_convs[0].norm, LayerNorm2d)
    with pytest.raises(ValueError, match='in_channels'):
        SimpleFPN(backbone_channel=64, in_channels=[64, 64, 64, 64], out_channels=8)


def test_ln2d_is_mmpretrains_in_mmdet_scope():
    """mmdet configs' ``norm_cfg=dict(type='LN2d')`` builds mmpretrain's LayerNorm2d."""
    from mmcv.cnn import build_norm_layer
    from mmdet.registry import MODELS
    assert MODELS.get('LN2d') is LayerNorm2d
    with DefaultScope.overwrite_default_scope('mmdet'):
        name, layer = build_norm_layer(dict(type='LN2d', eps=1e-6), 8)
    assert isinstance(layer, LayerNorm2d) and name == 'ln' and layer.eps == 1e-6


# ---------------------------------------------------------------------------------------------
# Layer-wise lr decay
# ---------------------------------------------------------------------------------------------
class _ToyDetector(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = tiny_backbone()
        with DefaultScope.overwrite_default_scope('mmdet'):  # LN2d is found in mmdet's scope
            self.neck = SimpleFPN(backbone_channel=64, out_channels=16)
        self.rpn_head = nn.Conv2d(16, 3, 1)


def _build_optim(model, num_layers=4, decay_rate=0.5):
    ctor = ViTLayerDecayOptimizerConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)),
        dict(num_layers=num_layers, decay_rate=decay_rate))
    return ctor(model)


def test_layer_decay_lrs_fall_with_depth():
    model = _ToyDetector()
    wrapper = _build_optim(model)
    lr_of, wd_of = {}, {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lr_of[p], wd_of[p] = group['lr'], group['weight_decay']
    named = dict(model.named_parameters())
    assert set(lr_of) == set(named.values())  # every parameter exactly once
    assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == len(named)

    def lr(name):
        return lr_of[named[name]]

    # 4 layers: patch embed is layer 0 (x0.5^5), layers.N is N + 1, the rest layer 5 (x1).
    assert lr('backbone.patch_embed.projection.weight') == pytest.approx(1e-3 * 0.5**5)
    assert lr('backbone.pos_embed') == pytest.approx(1e-3 * 0.5**5)
    assert lr('backbone.layers.0.attn.qkv.weight') == pytest.approx(1e-3 * 0.5**4)
    assert lr('backbone.layers.3.ffn.layers.1.weight') == pytest.approx(1e-3 * 0.5)
    assert lr('backbone.ln1.weight') == pytest.approx(1e-3)
    assert lr('neck.fpn1.0.weight') == pytest.approx(1e-3)
    assert lr('rpn_head.weight') == pytest.approx(1e-3)

    def wd(name):
        return wd_of[named[name]]

    assert wd('backbone.layers.0.attn.qkv.weight') == 0.05
    assert wd('rpn_head.weight') == 0.05
    for name in ('backbone.pos_embed', 'backbone.layers.0.attn.rel_pos_h',
                 'backbone.layers.1.attn.qkv.bias', 'backbone.layers.1.ln2.weight',
                 'neck.lateral_convs.0.ln.weight', 'rpn_head.bias'):
        assert wd(name) == 0., name


def test_layer_decay_refuses_silent_no_op():
    with pytest.raises(ValueError, match='backbone.layers.N'):
        _build_optim(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match='num_layers'):
        _build_optim(_ToyDetector(), num_layers=3)
    with pytest.raises(ValueError, match='decay_rate'):
        _build_optim(_ToyDetector(), decay_rate=1.5)
    with pytest.raises(ValueError, match='decay_type'):
        ViTLayerDecayOptimizerConstructor(
            dict(optimizer=dict(type='AdamW', lr=1e-3)),
            dict(num_layers=4, decay_type='layer_wise'))


# ---------------------------------------------------------------------------------------------
# Configs and an end-to-end run
# ---------------------------------------------------------------------------------------------
def test_vit_b_config_builds_the_vitdet_recipe():
    from mmengine.config import Config
    cfg = Config.fromfile(MAIN_CFG)
    backbone = cfg.model.backbone
    assert backbone.type == 'ViTDetBackbone' and backbone.window_size == 14
    assert tuple(backbone.global_attn_indexes) == (2, 5, 8, 11)
    assert backbone.init_cfg.checkpoint == cfg.pretrained
    assert cfg.model.neck.type == 'SimpleFPN'
    assert cfg.model.roi_head.bbox_head.norm_cfg.type == 'LN2d'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.1
    assert cfg.optim_wrapper.paramwise_cfg.decay_rate == 0.7
    assert cfg.train_dataloader.dataset.times * cfg.train_cfg.max_epochs == 100
    assert cfg.test_dataloader.dataset.pipeline[1].scale == (1024, 1024)


def test_demo_config_trains_and_reports_coco_metrics(tmp_path, amt_checkpoint):
    """From a converted MAE-AMT pre-training checkpoint to COCO bbox and segm AP."""
    synthetic = pytest.importorskip(
        'mmamt.testing.synthetic',
        reason='mmamt.testing.synthetic (the synthetic data generator) has not landed yet')
    from mmengine.config import Config
    from mmengine.runner import Runner

    synthetic.make_synthetic_dataset(
        str(tmp_path / 'data'), num_train=8, num_val=4, image_size=64, seed=0)
    coco_root = str(tmp_path / 'data' / 'coco') + '/'
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(tmp_path / 'work')
    converted = str(tmp_path / 'amt_mmdet.pth')
    assert convert_checkpoint(amt_checkpoint(16), converted, 'mmdet').coverage.ok
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=converted)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = coco_root
        loader.num_workers = 0
        loader.batch_size = 2
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        evaluator.ann_file = coco_root + 'annotations/instances_val.json'
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 100
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=100)
    cfg.default_hooks.logger.interval = 1

    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP_50'):
        assert key in metrics, sorted(metrics)
        assert isinstance(metrics[key], float) and 0. <= metrics[key] <= 1.
    logs = glob.glob(osp.join(cfg.work_dir, '*', '*.log'))
    text = ''.join(open(p).read() for p in logs)
    assert 'ViTDetBackbone: loaded 53/53 pre-trained tensors' in text
    assert 'layer-wise lr decay' in text
