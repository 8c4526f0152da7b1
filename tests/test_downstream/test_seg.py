"""mmseg downstream: MAEStrict loads converted checkpoints exactly, refuses others, and UperNet
trains and reports mIoU on the synthetic ADE set."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmamt.downstream.convert import convert_checkpoint
from mmamt.downstream.keymap import KeyCoverageError
from mmamt.downstream.seg import MAEStrict
from tests.test_downstream.test_convert import (ARCH, DIMS, HEADS, IMG, LAYERS, PATCH,
                                                make_mae_checkpoint, make_simmim_checkpoint)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'benchmarks', 'mmseg')
BENCHMARK = osp.join(CONFIGS, 'upernet_vit-b-p16_8xb2-160k_ade20k-512x512.py')
DEMO = osp.join(CONFIGS, 'upernet_vit-demo-p8_1xb4-40iter_synthetic-ade-64x64.py')


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """Source checkpoints and their mmseg / mmpretrain conversions."""
    root = tmp_path_factory.mktemp('seg')
    out = {}
    for kind, maker in (('mae', make_mae_checkpoint), ('simmim', make_simmim_checkpoint)):
        src = str(root / f'{kind}.pth')
        ckpt = maker(src)
        for target in ('mmseg', 'mmpretrain'):
            convert_checkpoint(src, str(root / f'{kind}_{target}.pth'), target)
        out[kind] = dict(
            src=ckpt,
            mmseg=str(root / f'{kind}_mmseg.pth'),
            mmpretrain=str(root / f'{kind}_mmpretrain.pth'))
    return out


def _mae_strict(checkpoint: str, **kwargs) -> MAEStrict:
    cfg = dict(
        img_size=IMG,
        patch_size=PATCH,
        embed_dims=DIMS,
        num_layers=LAYERS,
        num_heads=HEADS,
        mlp_ratio=ARCH['feedforward_channels'] // DIMS,
        norm_cfg=dict(type='LN', eps=1e-6),
        init_values=1.0,
        final_norm=True,
        out_indices=[LAYERS - 1],
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
    cfg.update(kwargs)
    return MAEStrict(**cfg)


@pytest.mark.parametrize('kind', ['mae', 'simmim'])
def test_mae_strict_reproduces_encoder(converted, kind):
    """Loaded into mmseg's MAE, the converted weights give the pre-trained encoder's features."""
    from mmpretrain.models import VisionTransformer
    backbone = _mae_strict(converted[kind]['mmseg'])
    backbone.init_weights()
    vit = VisionTransformer(
        arch=ARCH,
        img_size=IMG,
        patch_size=PATCH,
        out_type='featmap',
        layer_scale_init_value=0.1 if kind == 'simmim' else 0.)
    state = {
        k[9:]: v
        for k, v in converted[kind]['src']['state_dict'].items()
        if k.startswith('backbone.') and k != 'backbone.mask_token'
    }
    vit.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, IMG, IMG)
    backbone.eval()  # (train() of both returns None: no chaining)
    vit.eval()
    with torch.no_grad():
        ours = backbone(x)[0]
        reference = vit(x)[0]
    assert ours.shape == reference.shape == (2, DIMS, IMG // PATCH, IMG // PATCH)
    assert (ours - reference).abs().max() < 1e-4


def test_mae_strict_resizes_pos_embed_and_drops_final_norm(converted):
    backbone = _mae_strict(
        converted['mae']['mmseg'], img_size=2 * IMG, final_norm=False, out_indices=[1, 3])
    info = backbone.load_pretrained(converted['mae']['mmseg'])
    assert list(info.dropped) == ['ln1.weight', 'ln1.bias']
    # new per layer: gamma_1, gamma_2, relative_position_bias_table and its index buffer
    assert len(info.new) == 4 * LAYERS
    assert backbone.pos_embed.shape == (1, 1 + (2 * IMG // PATCH)**2, DIMS)
    src = converted['mae']['src']['state_dict']
    fc2 = src['backbone.layers.3.ffn.layers.1.weight']
    assert backbone.layers[3].ffn.layers[1].weight.equal(fc2)


def test_mae_strict_refuses_what_mmseg_mae_would_swallow(converted, tmp_path):
    # an mmpretrain-scheme checkpoint: upstream's MAE would load nothing, silently
    with pytest.raises(KeyCoverageError, match='backbone'):
        _mae_strict(converted['mae']['mmpretrain']).init_weights()
    ckpt = torch.load(converted['mae']['mmseg'], map_location='cpu', weights_only=True)
    for change in ('missing', 'unused'):
        state = dict(ckpt['state_dict'])
        if change == 'missing':
            del state['layers.2.attn.qkv.weight']
        else:
            state['layers.2.attn.qkv_extra.weight'] = state['layers.2.attn.qkv.weight']
        path = str(tmp_path / f'{change}.pth')
        torch.save(dict(state_dict=state), path)
        with pytest.raises(KeyCoverageError, match='qkv'):
            _mae_strict(path).init_weights()


def test_benchmark_config_follows_mae_recipe():
    cfg = Config.fromfile(BENCHMARK)
    backbone = cfg.model.backbone
    assert backbone.type == 'MAEStrict' and cfg.model.pretrained is None
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint=cfg.pretrained)
    assert backbone.init_values == 1.0 and backbone.norm_cfg.eps == 1e-6
    assert cfg.model.backbone.img_size == (512, 512) and cfg.model.backbone.num_layers == 12
    assert cfg.model.neck.type == 'Feature2Pyramid' and cfg.model.decode_head.type == 'UPerHead'
    assert cfg.optim_wrapper.constructor == 'LayerDecayOptimizerConstructor'
    assert cfg.optim_wrapper.paramwise_cfg == dict(num_layers=12, layer_decay_rate=0.65)
    assert cfg.train_cfg.max_iters == 160000 and cfg.train_dataloader.batch_size == 2
    assert 'MAE' in cfg.model.backbone.type  # what the layer-decay constructor keys on


def test_demo_upernet_trains_and_reports_miou(amt_checkpoint, tmp_path):
    """From a converted MAE-AMT pre-training checkpoint to mIoU."""
    synthetic = pytest.importorskip(
        'mmamt.testing.synthetic', reason='the synthetic data generator has not landed yet')
    from mmengine.runner import Runner
    data_root = tmp_path / 'data'
    synthetic.make_synthetic_dataset(str(data_root), num_train=8, num_val=4, image_size=IMG)
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(tmp_path / 'work')
    converted = str(tmp_path / 'amt_mmseg.pth')
    assert convert_checkpoint(amt_checkpoint(PATCH), converted, 'mmseg').coverage.ok
    cfg.model.backbone.init_cfg.checkpoint = converted
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root / 'ade')
    cfg.train_cfg.max_iters = 3
    cfg.train_cfg.val_interval = 100
    cfg.default_hooks.logger.interval = 1
    runner = Runner.from_cfg(cfg)
    runner.train()
    # the pre-trained weights went in (then moved a little), and layer decay is in force
    groups = {g['group_name']: g for g in runner.optim_wrapper.optimizer.param_groups}
    assert groups['layer_1_decay']['lr'] < groups['layer_4_decay']['lr']
    assert groups['layer_1_decay']['lr_scale'] == pytest.approx(0.65**4)
    metrics = runner.test()
    assert 'mIoU' in metrics and 0.0 <= metrics['mIoU'] <= 100.0
