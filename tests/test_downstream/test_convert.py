"""The checkpoint converter: full key coverage, strict refusals, and a feature-exact timm export."""
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import mmamt  # noqa: F401  (registers; safe checkpoint loading)
from mmamt.downstream.convert import (CheckpointConversionError, ViTArch, build_timm_model,
                                      convert_checkpoint, convert_state_dict, timm_model_name)
from mmamt.downstream.keymap import KeyCoverageError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO, 'tools', 'model_converters', 'convert_amt.py')
_spec = importlib.util.spec_from_file_location('convert_amt_cli', CLI)
_cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cli)
cli_main = _cli.main

IMG, PATCH, DIMS, LAYERS, HEADS, FFN = 64, 8, 64, 4, 4, 128
ARCH = dict(embed_dims=DIMS, num_layers=LAYERS, num_heads=HEADS, feedforward_channels=FFN)
# cls_token, pos_embed, patch_embed (2), per layer 12 (no layer scale), final norm (2)
NUM_PLAIN = 4 + LAYERS * 12 + 2


def mae_model_cfg() -> dict:
    """A tiny mmpretrain MAE (what MAE-AMT's state dict looks like, key for key)."""
    return dict(
        type='MAE',
        backbone=dict(type='MAEViT', arch=ARCH, img_size=IMG, patch_size=PATCH),
        neck=dict(
            type='MAEPretrainDecoder',
            num_patches=(IMG // PATCH)**2,
            patch_size=PATCH,
            in_chans=3,
            embed_dim=DIMS,
            decoder_embed_dim=32,
            decoder_depth=1,
            decoder_num_heads=4),
        head=dict(
            type='MAEPretrainHead',
            norm_pix=True,
            patch_size=PATCH,
            loss=dict(type='PixelReconstructionLoss', criterion='L2')))


def make_mae_checkpoint(path: str, with_cfg: bool = True) -> dict:
    """Save a tiny plain-MAE checkpoint as mmengine's Runner does (cfg text in meta)."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    cfg = mae_model_cfg()
    # an earlier mmseg Runner may have left 'mmseg' (which has its own 'MAE') as default scope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    model.init_weights()
    meta = dict(epoch=1, iter=10)
    if with_cfg:
        meta['cfg'] = Config(dict(model=cfg)).pretty_text
    ckpt = dict(meta=meta, state_dict=model.state_dict())
    torch.save(ckpt, path)
    return ckpt


def make_simmim_checkpoint(path: str) -> dict:
    """Save a tiny SimMIM-AMT-like checkpoint: layer scale, a mask token, a pixel head."""
    from mmpretrain.models import VisionTransformer
    torch.manual_seed(1)
    backbone_cfg = dict(
        type='VisionTransformer',
        arch=ARCH,
        img_size=IMG,
        patch_size=PATCH,
        layer_scale_init_value=0.1,
        out_type='raw')
    vit = VisionTransformer(**{k: v for k, v in backbone_cfg.items() if k != 'type'})
    vit.init_weights()
    state = {f'backbone.{k}': v for k, v in vit.state_dict().items()}
    for key in state:  # make layer scale matter
        if 'gamma' in key:
            state[key] = torch.rand_like(state[key]) + 0.5
    state['backbone.mask_token'] = torch.randn(1, 1, DIMS)
    state['head.decoder.weight'] = torch.randn(PATCH * PATCH * 3, DIMS, 1, 1)
    state['head.decoder.bias'] = torch.zeros(PATCH * PATCH * 3)
    cfg = dict(type='SimMIMAMT', backbone=backbone_cfg, head=dict(type='SimMIMHead'))
    ckpt = dict(meta=dict(cfg=Config(dict(model=cfg)).pretty_text), state_dict=state)
    torch.save(ckpt, path)
    return ckpt


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpts')
    out = {}
    for name, maker in (('mae', make_mae_checkpoint), ('simmim', make_simmim_checkpoint)):
        path = str(root / f'{name}.pth')
        out[name] = (path, maker(path))
    return out


def _encoder(state: dict) -> dict:
    return {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}


@pytest.mark.parametrize('kind', ['mae', 'simmim'])
@pytest.mark.parametrize('target', ['mmpretrain', 'mmdet', 'mmseg', 'timm'])
def test_full_coverage(ckpts, tmp_path, kind, target):
    src, ckpt = ckpts[kind]
    dst = str(tmp_path / 'out.pth')
    result = convert_checkpoint(src, dst, target)
    report = result.coverage
    assert report.ok and not report.missing and not report.unused and not report.mismatched
    layer_scale = kind == 'simmim'
    assert result.arch.num_heads == HEADS and result.arch.layer_scale == layer_scale
    num_encoder = NUM_PLAIN + (2 * LAYERS if layer_scale else 0)
    # every encoder tensor is used once; mmdet drops the class token by design
    assert len(report.used) == num_encoder - (target == 'mmdet')
    assert not report.synthesised
    dropped = set(report.dropped)
    non_encoder = {k for k in ckpt['state_dict'] if not k.startswith('backbone.')}
    assert non_encoder and non_encoder <= dropped
    assert ('mask_token' in dropped) == (kind == 'simmim')
    assert ('cls_token' in dropped) == (target == 'mmdet')
    # mmdet: rel_pos_h/w; mmseg: the relative position table and its index buffer, and the
    # layer scales gamma_1/2 when the source has none
    num_new = {
        'mmpretrain': 0,
        'timm': 0,
        'mmdet': 2 * LAYERS,
        'mmseg': LAYERS * (2 if layer_scale else 4)
    }[target]
    assert len(report.new) == num_new
    # the written file holds exactly the filled tensors, values unchanged
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    state = saved if target == 'timm' else saved['state_dict']
    if target == 'mmpretrain':
        assert all(k.startswith('backbone.') for k in state)
        assert state['backbone.layers.2.attn.qkv.weight'].equal(
            ckpt['state_dict']['backbone.layers.2.attn.qkv.weight'])
    else:
        assert not any(k.startswith('backbone.') for k in state)
    if target != 'timm':
        info = saved['meta']['mmamt_convert']
        assert info['coverage']['missing'] == 0 and info['arch']['num_heads'] == HEADS
    assert len(state) == len(report.used)
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]


def test_mmseg_and_timm_names(ckpts):
    src, ckpt = ckpts['simmim']
    mmseg = convert_checkpoint(src, None, 'mmseg').output['state_dict']
    timm = convert_checkpoint(src, None, 'timm').output
    src_sd = ckpt['state_dict']
    assert mmseg['layers.1.gamma_1'].equal(src_sd['backbone.layers.1.attn.gamma1.weight'])
    assert mmseg['layers.1.gamma_2'].equal(src_sd['backbone.layers.1.ffn.gamma2.weight'])
    assert timm['blocks.3.ls2.gamma'].equal(src_sd['backbone.layers.3.ffn.gamma2.weight'])
    assert timm['blocks.0.mlp.fc1.weight'].equal(src_sd['backbone.layers.0.ffn.layers.0.0.weight'])
    assert timm['norm.weight'].equal(src_sd['backbone.ln1.weight'])
    assert timm['patch_embed.proj.weight'].equal(src_sd['backbone.patch_embed.projection.weight'])


def _mmpretrain_tokens(ckpt: dict, layer_scale: bool, x: torch.Tensor) -> torch.Tensor:
    from mmpretrain.models import VisionTransformer
    vit = VisionTransformer(
        arch=ARCH,
        img_size=IMG,
        patch_size=PATCH,
        out_type='raw',
        layer_scale_init_value=0.1 if layer_scale else 0.)
    missing = vit.load_state_dict(_encoder(ckpt['state_dict']), strict=False)
    assert not missing.missing_keys and missing.unexpected_keys in ([], ['mask_token'])
    vit.eval()  # (mmpretrain's train() returns None: no chaining)
    return vit(x)[0]


@pytest.mark.parametrize('kind', ['mae', 'simmim'])
def test_timm_export_matches_encoder(ckpts, tmp_path, kind):
    src, ckpt = ckpts[kind]
    dst = str(tmp_path / 'timm.pth')
    result = convert_checkpoint(src, dst, 'timm')
    model = build_timm_model(result.arch)
    model.eval()
    model.load_state_dict(torch.load(dst, map_location='cpu', weights_only=True), strict=True)
    x = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        ours = _mmpretrain_tokens(ckpt, kind == 'simmim', x)
        theirs = model.forward_features(x)
    assert theirs.shape == ours.shape == (2, 1 + (IMG // PATCH)**2, DIMS)
    assert (theirs - ours).abs().max() < 1e-4


@pytest.mark.parametrize('kind', ['mae', 'simmim'])
def test_mmdet_export_loads_into_vitdet(ckpts, tmp_path, kind):
    """mmamt's ViTDetBackbone (strict loader) takes the mmdet export, values unchanged."""
    det = pytest.importorskip('mmamt.downstream.det', reason='ViTDetBackbone not there yet')
    src, ckpt = ckpts[kind]
    dst = str(tmp_path / 'det.pth')
    convert_checkpoint(src, dst, 'mmdet')
    backbone = det.ViTDetBackbone(
        arch=dict(ARCH, global_attn_indexes=(1, 3)),
        img_size=IMG,
        patch_size=PATCH,
        pretrain_img_size=IMG,
        window_size=4,
        layer_scale_init_value=0.1 if kind == 'simmim' else 0.,
        init_cfg=dict(type='Pretrained', checkpoint=dst))
    backbone.init_weights()
    encoder = _encoder(ckpt['state_dict'])
    own = backbone.state_dict()
    assert 'cls_token' not in own
    loaded = [k for k in own if 'rel_pos' not in k]
    assert len(loaded) == len(encoder) - 1 - (kind == 'simmim')  # no cls_token / mask_token
    assert all(own[k].equal(encoder[k]) for k in loaded)


def test_timm_registered_name_strict_load():
    """A ViT-B/16 arch picks vit_base_patch16_224, which takes the export strictly."""
    from mmpretrain.models import VisionTransformer
    arch = ViTArch(
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        feedforward_channels=3072,
        patch_size=16,
        img_size=(224, 224))
    assert timm_model_name(arch) == 'vit_base_patch16_224'
    with torch.device('meta'):
        vit_state = VisionTransformer(arch='b').state_dict()
    state = {k: torch.zeros(v.shape) for k, v in vit_state.items()}
    converted, report = convert_state_dict(state, arch, 'timm')
    assert report.ok and len(converted) == 4 + 12 * 12 + 2 and list(converted)[0] == 'cls_token'
    model = build_timm_model(arch)
    assert type(model).__name__ == 'VisionTransformer'
    model.load_state_dict(converted, strict=True)


def test_checkpoint_without_config_needs_one(ckpts, tmp_path):
    """The architecture comes from the run's config; a bare state dict needs it given."""
    src, ckpt = ckpts['mae']
    bare = str(tmp_path / 'bare.pth')
    torch.save(ckpt['state_dict'], bare)  # no meta at all
    with pytest.raises(CheckpointConversionError, match='--config'):
        convert_checkpoint(bare, None, 'mmdet')
    out = str(tmp_path / 'det.pth')
    result = convert_checkpoint(bare, out, 'mmdet', cfg=Config(dict(model=mae_model_cfg())))
    assert result.coverage.ok and result.arch.num_heads == HEADS
    assert result.arch.img_size == (IMG, IMG)
    # the config given is recorded in plain types, so the output loads safely and converts on
    saved = torch.load(out, map_location='cpu', weights_only=True)
    assert saved['meta']['mmamt_convert']['backbone']['arch'] == ARCH
    # a config file works the same
    cfg_file = tmp_path / 'pretrain_cfg.py'
    Config(dict(model=mae_model_cfg())).dump(str(cfg_file))
    assert convert_checkpoint(bare, None, 'timm', cfg=str(cfg_file)).coverage.ok
    # a config that contradicts the weights is reported, not silently used
    wrong = mae_model_cfg()
    wrong['backbone'] = dict(wrong['backbone'], arch='base')
    with pytest.raises(KeyCoverageError, match='check the architecture') as err:
        convert_checkpoint(bare, None, 'mmdet', cfg=dict(model=wrong))
    assert err.value.coverage.mismatched


def test_converted_output_converts_again(ckpts, tmp_path):
    """An mmpretrain export carries its backbone config in meta, so it converts on."""
    first = str(tmp_path / 'mmpretrain.pth')
    convert_checkpoint(ckpts['simmim'][0], first, 'mmpretrain')
    again = convert_checkpoint(first, None, 'mmseg')
    assert again.coverage.ok and again.arch.num_heads == HEADS and again.arch.layer_scale
    assert len(again.coverage.used) == NUM_PLAIN + 2 * LAYERS


def test_source_without_qkv_bias(tmp_path):
    """No qkv bias converts completely: zeros where the target has one (mmseg's MAE always
    does), no bias where it can go without (timm)."""
    from mmpretrain.models import VisionTransformer
    backbone = dict(
        type='VisionTransformer',
        arch=ARCH,
        img_size=IMG,
        patch_size=PATCH,
        qkv_bias=False,
        layer_scale_init_value=0.1)
    vit = VisionTransformer(**{k: v for k, v in backbone.items() if k != 'type'})
    state = {f'backbone.{k}': v for k, v in vit.state_dict().items()}
    src = str(tmp_path / 'no_qkv_bias.pth')
    torch.save(
        dict(
            meta=dict(cfg=Config(dict(model=dict(backbone=backbone))).pretty_text),
            state_dict=state), src)
    mmseg = convert_checkpoint(src, None, 'mmseg')
    assert mmseg.coverage.ok and not mmseg.arch.qkv_bias
    assert set(mmseg.coverage.synthesised) == {f'layers.{i}.attn.qkv.bias' for i in range(LAYERS)}
    assert mmseg.output['state_dict']['layers.1.attn.qkv.bias'].abs().sum() == 0
    timm_export = convert_checkpoint(src, None, 'timm')
    assert timm_export.coverage.ok and not timm_export.coverage.synthesised
    model = build_timm_model(timm_export.arch)
    model.load_state_dict(timm_export.output, strict=True)


# ------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------
def _broken(ckpt: dict, path: str, rename=None, delete=None) -> str:
    state = dict(ckpt['state_dict'])
    if rename:
        state[rename[1]] = state.pop(rename[0])
    if delete:
        del state[delete]
    torch.save(dict(meta=ckpt['meta'], state_dict=state), path)
    return path


def test_cli_success_prints_report(ckpts, tmp_path, capsys):
    dst = str(tmp_path / 'o.pth')
    assert cli_main([ckpts['mae'][0], dst, '--to', 'mmseg']) == 0
    out = capsys.readouterr().out
    assert 'missing                : 0' in out and '-> complete' in out
    assert 'neck' in out and osp.isfile(dst)


@pytest.mark.parametrize('target', ['mmpretrain', 'timm'])
def test_cli_renamed_weight_fails(ckpts, tmp_path, capsys, target):
    src = _broken(
        ckpts['mae'][1],
        str(tmp_path / 'renamed.pth'),
        rename=('backbone.layers.1.ln2.weight', 'backbone.layers.1.norm2.weight'))
    dst = tmp_path / 'o.pth'
    dst.write_bytes(b'previous output')
    assert cli_main([src, str(dst), '--to', target, '--force']) == 1
    out = capsys.readouterr().out
    # missing under the target's name; the stray tensor unused although timm calls it so
    missing = {'mmpretrain': 'layers.1.ln2.weight', 'timm': 'blocks.1.norm2.weight'}[target]
    assert f'MISSING: {missing}' in out and 'UNUSED: layers.1.norm2.weight' in out
    assert dst.read_bytes() == b'previous output'  # untouched


def test_cli_missing_weight_fails(ckpts, tmp_path, capsys):
    src = _broken(
        ckpts['simmim'][1],
        str(tmp_path / 'missing.pth'),
        delete='backbone.layers.2.attn.gamma1.weight')
    dst = tmp_path / 'o.pth'
    assert cli_main([src, str(dst), '--to', 'mmdet']) == 1
    assert 'MISSING: layers.2.attn.gamma1.weight' in capsys.readouterr().out
    assert not dst.exists()


def test_cli_refuses_non_checkpoints(ckpts, tmp_path, capsys):
    text = tmp_path / 'notes.txt'
    text.write_text('not a checkpoint\n')
    assert cli_main([str(text), str(tmp_path / 'o.pth'), '--to', 'mmseg']) == 2
    assert 'not a readable torch checkpoint' in capsys.readouterr().err
    no_backbone = str(tmp_path / 'decoder_only.pth')
    state = {k: v for k, v in ckpts['mae'][1]['state_dict'].items() if k.startswith('neck.')}
    torch.save(dict(meta={}, state_dict=state), no_backbone)
    assert cli_main([no_backbone, str(tmp_path / 'o.pth'), '--to', 'timm']) == 2
    assert 'holds no backbone' in capsys.readouterr().err
    assert not (tmp_path / 'o.pth').exists()


def test_cli_process_exit_status(ckpts, tmp_path):
    """The script itself (not only ``main``) exits non-zero on an incomplete conversion."""
    src = _broken(
        ckpts['mae'][1],
        str(tmp_path / 'missing.pth'),
        delete='backbone.patch_embed.projection.bias')
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, CLI, src,
                           str(tmp_path / 'o.pth'), '--to', 'mmdet'],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=REPO,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert 'MISSING: patch_embed.projection.bias' in proc.stdout
    # OUT a symlink to IN: refused with status 2, IN unchanged
    link = tmp_path / 'out_link.pth'
    link.symlink_to(src)
    before = open(src, 'rb').read()
    proc = subprocess.run([sys.executable, CLI, src,
                           str(link), '--to', 'mmpretrain', '--force'],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2 and 'is the input' in proc.stderr, proc.stderr
    assert open(src, 'rb').read() == before


def test_cli_refuses_to_overwrite_its_input(ckpts, tmp_path, capsys):
    """OUT naming IN (as given, through a symlink or a hard link) is refused, --force or not."""
    src = tmp_path / 'pretrain.pth'
    shutil.copy(ckpts['mae'][0], src)
    before = src.read_bytes()
    link = tmp_path / 'link.pth'
    link.symlink_to(src)
    hard = tmp_path / 'hard.pth'
    os.link(src, hard)
    for out in (src, link, hard, tmp_path / '.' / 'pretrain.pth'):
        for force in ([], ['--force']):
            assert cli_main([str(src), str(out), '--to', 'mmpretrain', *force]) == 2, out
            err = capsys.readouterr().err
            assert 'is the input' in err and str(out) in err
    assert src.read_bytes() == before  # the pre-training checkpoint is intact


@pytest.mark.parametrize('target,package', [('mmdet', 'mmdet'), ('mmseg', 'mmseg')])
def test_cli_refuses_a_target_whose_package_is_missing(ckpts, tmp_path, capsys, monkeypatch, target,
                                                       package):
    """Without mmdet (mmseg) --to mmdet (mmseg) is refused (2), not incomplete (1), with the
    install command, before OUT is written."""
    monkeypatch.setitem(sys.modules, package, None)  # `import mmdet` raises ImportError
    dst = tmp_path / 'o.pth'
    assert cli_main([ckpts['mae'][0], str(dst), '--to', target]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1, err
    assert f'--to {target} needs {package}' in err and 'make install-full' in err, err
    assert not dst.exists()


def test_cli_overwrites_an_existing_output_only_with_force(ckpts, tmp_path, capsys):
    dst = tmp_path / 'o.pth'
    dst.write_bytes(b'previous output')
    assert cli_main([ckpts['mae'][0], str(dst), '--to', 'mmdet']) == 2
    err = capsys.readouterr().err
    assert 'exists' in err and '--force' in err
    assert dst.read_bytes() == b'previous output'
    assert cli_main([ckpts['mae'][0], str(dst), '--to', 'mmdet', '--force']) == 0
    assert 'state_dict' in torch.load(dst, map_location='cpu', weights_only=True)


def test_converter_needs_no_mmdet_mmseg_or_timm_for_mmpretrain(tmp_path):
    """With mmdet, mmseg and timm absent (the pre-training install), ``--to mmpretrain``
    converts: the converter imports each only when converting for it."""
    script = f"""
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('mmdet', 'mmseg', 'timm'):
            raise ImportError(name + ' is not installed')
sys.meta_path.insert(0, Absent())
import torch
from mmengine.config import Config
from mmpretrain.models import VisionTransformer
from mmamt.downstream.convert import convert_checkpoint
backbone = dict(type='VisionTransformer', arch={ARCH!r}, img_size=32, patch_size=8)
vit = VisionTransformer(**{{k: v for k, v in backbone.items() if k != 'type'}})
meta = dict(cfg=Config(dict(model=dict(backbone=backbone))).pretty_text)
state = {{'backbone.' + k: v for k, v in vit.state_dict().items()}}
torch.save(dict(meta=meta, state_dict=state), '{tmp_path}/in.pth')
result = convert_checkpoint('{tmp_path}/in.pth', '{tmp_path}/out.pth', 'mmpretrain')
assert result.coverage.ok and len(result.coverage.used) == len(state)
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=REPO,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr[-2000:]


def test_config_text_is_read_not_run(ckpts, tmp_path):
    """``meta['cfg']`` of a foreign checkpoint is read as literals: code in it never runs, and
    entries that are not literals are left out."""
    _, ckpt = ckpts['mae']
    marker = tmp_path / 'ran'
    cfg_text = (f"import os\nos.system('touch {marker}')\n"
                f"model = dict(type='MAE', backbone=dict(type='MAEViT', arch={ARCH!r}, "
                f"img_size={IMG}, patch_size={PATCH}, "
                f"init_cfg=__import__('os').system('touch {marker}')))\n")
    src = str(tmp_path / 'foreign.pth')
    torch.save(dict(meta=dict(cfg=cfg_text), state_dict=ckpt['state_dict']), src)
    result = convert_checkpoint(src, None, 'mmdet')
    assert result.coverage.ok and 'init_cfg' not in result.info['backbone']
    assert not marker.exists()


@pytest.mark.parametrize('name', ['mff', 'maskfeat', 'eva', 'milan'])
@pytest.mark.parametrize('target', ['mmpretrain', 'mmdet', 'mmseg', 'timm'])
def test_every_amt_algorithm_converts_with_full_coverage(tmp_path, name, target):
    """MFF-AMT, MaskFeat-AMT, EVA-AMT and MILAN-AMT checkpoints: every encoder tensor used,
    the rest (decoder, head, the teacher, MFF's fusion layers, the mask token) dropped by name."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    from mmamt.testing.tiny_teacher import write_tiny_clip
    from tests.test_models.test_amt_family import FEATURE_DIM, amt_cfg
    teacher = write_tiny_clip(str(tmp_path / 'clip.pth'), 32, 8, embed_dim=FEATURE_DIM)
    cfg = amt_cfg(name, teacher)[0]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    model.init_weights()
    src, dst = str(tmp_path / f'{name}.pth'), str(tmp_path / 'out.pth')
    torch.save(
        dict(meta=dict(cfg=Config(dict(model=cfg)).pretty_text), state_dict=model.state_dict()),
        src)
    report = convert_checkpoint(src, dst, target).coverage
    assert report.ok and not report.missing and not report.unused and not report.mismatched
    state = model.state_dict()
    encoder = [k for k in state if k.startswith('backbone.')]
    pretrain_only = [k for k in encoder if 'proj_' in k or k.endswith('mask_token')]
    assert bool(pretrain_only) == (name not in ('eva', 'milan'))
    assert len(report.used) == len(encoder) - len(pretrain_only) - (target == 'mmdet')
    dropped = set(report.dropped)
    assert {k for k in state if not k.startswith('backbone.')} <= dropped
    assert {k[len('backbone.'):] for k in pretrain_only} <= dropped
    if name in ('eva', 'milan'):
        assert any(k.startswith('target_generator.') for k in dropped)
