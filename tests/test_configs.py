"""Every shipped pre-training config parses, names registered modules, and builds."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmpretrain.registry import HOOKS, MODELS, TRANSFORMS

import mmamt  # noqa: F401
from mmamt.utils.amt_config import check_amt_wiring, refresh_hook_cfg

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(
    str(p.relative_to(ROOT))
    for d in ('mae_amt', 'simmim_amt', 'demo', 'mff_amt', 'maskfeat_amt', 'eva_amt', 'milan_amt')
    for p in (ROOT / 'configs' / d).glob('*.py'))


def _pipeline(cfg):
    ds = cfg.train_dataloader.dataset
    return ds.get('pipeline', [])


@pytest.mark.parametrize('path', CONFIGS)
def test_config_parses_and_uses_registered_modules(path):
    cfg = Config.fromfile(str(ROOT / path))
    assert MODELS.get(cfg.model.type) is not None
    for t in _pipeline(cfg):
        assert TRANSFORMS.get(t['type']) is not None, t['type']
    for h in list(cfg.get('custom_hooks', [])) + list((cfg.get('default_hooks') or {}).values()):
        assert h is None or HOOKS.get(h['type']) is not None
    amt = 'amt' in Path(path).name.split('_')[0]
    types = [t['type'] for t in _pipeline(cfg)]
    check_amt_wiring(cfg)  # the pieces come together, or none is there
    if amt:
        assert 'LoadAttentionMap' in types and 'AMTMaskGenerator' in types
        # In default_hooks, so a derived config that sets custom_hooks keeps AMT.
        assert cfg.default_hooks.amt_refresh['type'] == 'AttentionRefreshHook'
        assert not cfg.get('custom_hooks')
        assert 'RandomResizedCrop' not in types and 'RandomFlip' not in types
    else:
        assert 'LoadAttentionMap' not in types and refresh_hook_cfg(cfg) is None


@pytest.mark.parametrize('path', [p for p in CONFIGS if Path(p).name.startswith('mae-amt_')])
def test_every_mae_amt_config_ships_the_same_guidance(path):
    # One guidance for MAE-AMT everywhere (docs/does-amt-help.md, "What the configs ship").
    gen = next(
        t for t in _pipeline(Config.fromfile(str(ROOT / path))) if t['type'] == 'AMTMaskGenerator')
    assert (gen['mask_ratio'], gen['throw_ratio'], gen['random_mask_ratio']) == (0.75, 0.10, 0.75)
    assert (gen['throw_mode'], gen['mask_power'], gen['ramp_refreshes']) == ('least_first', 0.0, 4)


def _with_tiny_teacher(model_cfg, folder):
    """A feature teacher loads its weights at build time: a tiny random one of the grid."""
    teacher = model_cfg.get('target_generator')
    if teacher and teacher.type == 'FrozenViTTeacher':
        from mmamt.testing.tiny_teacher import write_tiny_vit
        teacher.checkpoint = write_tiny_vit(str(folder / 'vit_teacher.pth'), teacher.encoder)
    if teacher and teacher.type in ('CLIPGenerator', 'FrozenCLIPTeacher'):
        from mmamt.testing.tiny_teacher import write_tiny_clip
        img, patch = model_cfg.backbone.get('img_size',
                                            224), model_cfg.backbone.get('patch_size', 16)
        teacher.tokenizer_path = write_tiny_clip(
            str(folder / f'clip_{img}_{patch}.pth'),
            img,
            patch,
            embed_dim=model_cfg.neck.get('predict_feature_dim', 512))  # MILAN's default
    return model_cfg


@pytest.mark.parametrize('path',
                         [p for p in CONFIGS if '_in1k' in p or '/demo/' in p or '_digits' in p])
def test_model_builds(path, tmp_path):
    cfg = Config.fromfile(str(ROOT / path))
    model = MODELS.build(_with_tiny_teacher(cfg.model, tmp_path))
    if 'amt' in Path(path).name.split('_')[0]:
        assert hasattr(model.backbone, 'attention_map')
    # The decoder takes the encoder's width (the config smoke test shrinks both, so only a
    # full-size build shows it; mmpretrain 1.2.0's MILAN config gets it wrong).
    decoder_embed = getattr(getattr(model, 'neck', None), 'decoder_embed', None)
    if decoder_embed is not None:
        assert decoder_embed.in_features == model.backbone.embed_dims


def baseline_of(path: str) -> str:
    """The plain config beside an AMT config: the name without its '-amt'."""
    folder, name = Path(path).parent, Path(path).name
    return str(folder / name.replace('-amt', '', 1))


#: What an AMT config may change against its baseline (see docs/amt-for-your-mim.md).
AMT_KEYS = ('model.type', 'model.backbone.type', 'model.backbone.mask_ratio', 'model.neck.type',
            'model.data_preprocessor.type', 'data_preprocessor.type', 'custom_imports',
            'default_hooks.amt_refresh', 'model.target_generator.type')
#: Pipeline steps as the baseline has them: AMT's crop and flip carry the map, mask generators
#: (AMT's or upstream's) are what AMT replaces.
UPSTREAM_STEP = {'AMTRandomResizedCrop': 'RandomResizedCrop', 'AMTRandomFlip': 'RandomFlip'}
MASK_STEPS = ('LoadAttentionMap', 'AMTMaskGenerator', 'BEiTMaskGenerator')


def _flat(value, prefix=''):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(v, f'{prefix}{k}.'))
        return out
    return {prefix[:-1]: value}


def _upstream_steps(pipeline):
    steps = []
    for step in pipeline:
        step = {k: v for k, v in step.items() if k != '_scope_'}
        if step['type'] not in MASK_STEPS:
            steps.append(dict(step, type=UPSTREAM_STEP.get(step['type'], step['type'])))
    return steps


@pytest.mark.parametrize('path', [
    p for p in CONFIGS if '-amt' in Path(p).name and Path(baseline_of(p)).name != Path(p).name and (
        ROOT / baseline_of(p)).is_file()
])
def test_amt_config_differs_from_its_baseline_in_amt_only(path):
    amt, base = (Config.fromfile(str(ROOT / p)).to_dict() for p in (path, baseline_of(path)))
    assert _upstream_steps(amt['train_dataloader']['dataset'].pop('pipeline')) == \
        _upstream_steps(base['train_dataloader']['dataset'].pop('pipeline'))
    a, b = _flat(amt), _flat(base)
    differ = sorted(k for k in set(a) | set(b) if a.get(k, '?') != b.get(k, '?'))
    # Top-level pipeline variables only feed train_dataloader, compared above.
    differ = [
        k for k in differ if not k.endswith('pipeline') and 'pipeline.' not in k
        and k != 'mask_generator' and not k.startswith('mask_generator.')
    ]
    assert all(k.startswith(AMT_KEYS)
               for k in differ), [k for k in differ if not k.startswith(AMT_KEYS)]


def test_every_new_algorithm_has_its_pair():
    for folder in ('mff_amt', 'maskfeat_amt', 'eva_amt', 'milan_amt'):
        amt = [p for p in CONFIGS if f'/{folder}/' in p and '-amt' in Path(p).name]
        assert len(amt) == 2 and all((ROOT / baseline_of(p)).is_file() for p in amt), folder


def test_reference_recipes():
    mae = Config.fromfile(
        str(ROOT / 'configs/mae_amt/mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'))
    gen = next(t for t in _pipeline(mae) if t['type'] == 'AMTMaskGenerator')
    assert (gen['mask_ratio'], gen['throw_ratio'], gen['random_mask_ratio']) == (0.75, 0.10, 0.75)
    # The guidance measured best on real images (docs/does-amt-help.md), in every MAE-AMT config.
    assert (gen['throw_mode'], gen['mask_power'], gen['ramp_refreshes']) == ('least_first', 0.0, 4)
    assert mae.train_cfg.max_epochs == 400
    hook = mae.default_hooks.amt_refresh
    assert (hook.start_epoch, hook.interval) == (40, 40)
    sim = Config.fromfile(
        str(ROOT / 'configs/simmim_amt/simmim-amt_vit-base-p16_8xb256-amp-coslr-200e_in1k.py'))
    gen = next(t for t in _pipeline(sim) if t['type'] == 'AMTMaskGenerator')
    assert (gen['mask_ratio'], gen['throw_ratio'], gen['mask_patch_size']) == (0.44, 0.10, 32)
    # MAE-AMT's guidance, measured best for SimMIM-AMT too (docs/amt-for-your-mim.md)
    assert (gen['throw_mode'], gen['mask_power'], gen['ramp_refreshes']) == ('least_first', 0.0, 4)
    assert sim.train_cfg.max_epochs == 200 and sim.optim_wrapper.clip_grad.max_norm == 5.0
    assert sim.model.backbone.drop_path_rate == 0.1
    assert sim.model.backbone.layer_scale_init_value == 0.1


@pytest.mark.parametrize('path', CONFIGS)
def test_no_collate_fn_carries_a_registry_scope(path):
    """Configs run with upstream tools too (mim train), which do not resolve scoped collates."""
    cfg = Config.fromfile(str(ROOT / path))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        collate_fn = (cfg.get(key) or {}).get('collate_fn')
        assert not isinstance(collate_fn, dict) or '_scope_' not in collate_fn, (key, collate_fn)


def test_benchmarks_draw_the_baselines_own_masks():
    """MaskFeat's baseline masks in the pipeline (BEiT blocks): the step benchmark and the
    FLOPs tool draw those masks; the AMT configs' own generator comes first."""
    from mmamt.utils.amt_config import build_mask_generator
    base = Config.fromfile(
        str(ROOT / 'configs/maskfeat_amt/maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k.py'))
    assert build_mask_generator(base) is None
    generator = build_mask_generator(base, upstream=True)
    assert type(generator).__name__ == 'BEiTMaskGenerator'
    assert int(generator.transform(dict())['mask'].sum()) == 78
    amt = Config.fromfile(
        str(ROOT / 'configs/maskfeat_amt/maskfeat-amt_vit-base-p16_8xb256-amp-coslr-300e_in1k.py'))
    assert type(build_mask_generator(amt, upstream=True)).__name__ == 'AMTMaskGenerator'
