"""The benchmark tools, run on the tiny demo configs (64 px, patch 8) against tiny baselines."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs' / 'demo'


def load_tool(name):
    path = ROOT / 'tools' / 'analysis_tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    """The demo configs and baselines beside them: mmpretrain's MAE, and SimMIM-ViT (the
    SimMIM-AMT config without the refresh hook, i.e. random masking, nothing thrown)."""
    folder = tmp_path_factory.mktemp('cfgs')
    mae = DEMO / 'mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py'
    simmim = DEMO / 'simmim-amt_vit-tiny-p8_1xb32-20e_synthetic.py'
    (folder / 'mae.py').write_text(f"""
_base_ = '{mae}'
model = dict(type='MAE', data_preprocessor=dict(type='SelfSupDataPreprocessor'),
             backbone=dict(type='MAEViT'), neck=dict(type='MAEPretrainDecoder'))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.35, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs')]))
default_hooks = dict(amt_refresh=dict(enable=False))
""")
    (folder / 'simmim_vit.py'
     ).write_text(f"_base_ = '{simmim}'\ndefault_hooks = dict(amt_refresh=dict(enable=False))\n")
    return dict(
        mae_amt=str(mae),
        mae=str(folder / 'mae.py'),
        simmim_amt=str(simmim),
        simmim_vit=str(folder / 'simmim_vit.py'))


@pytest.fixture(scope='module')
def results(configs, tmp_path_factory):
    out = tmp_path_factory.mktemp('bench') / 'bench.json'
    tool = load_tool('benchmark_pretrain')
    tool.main([
        configs['mae_amt'], '--baseline', configs['mae'], '--batch-size', '2', '3', '--device',
        'cpu', '--warmup', '1', '--reps', '2', '--json',
        str(out)
    ])
    return json.loads(out.read_text())


def test_every_setting_has_every_key(results):
    assert results['machine']['device_name'].startswith('CPU')
    assert [(r['batch_size'], r['precision'], r['compile']) for r in results['runs']] == \
        [(2, 'fp32', False), (3, 'fp32', False)]
    keys = {'step_time_s', 'img_per_s', 'peak_mem_mb', 'tokens', 'config'}
    for run in results['runs']:
        assert set(run['results']) == {'config', 'baseline'}
        for name, r in run['results'].items():
            assert keys <= set(r), name
            assert r['step_time_s'] > 0 and r['img_per_s'] > 0 and len(r['step_times_s']) == 2
            assert r['peak_mem_mb'] > r['transient_mem_mb'] >= 0
        assert run['results']['config']['speedup_vs_baseline'] > 0


def test_counts_come_from_the_configs(results):
    run = results['runs'][0]['results']
    # 64 px, patch 8: 64 patches. MAE keeps 16 visible; MAE-AMT (0.75 / 0.10): 48 masked,
    # 6 thrown, 10 visible, drawn by the config's own AMTMaskGenerator.
    assert run['baseline']['tokens'] == dict(visible=16, masked=48, thrown=0)
    assert run['config']['tokens'] == dict(visible=10, masked=48, thrown=6)


def test_simmim_counts_and_precision_guard(configs):
    tool = load_tool('benchmark_pretrain')
    res = tool.main([
        configs['simmim_amt'], '--baseline', configs['simmim_vit'], '--batch-size', '2', '--device',
        'cpu', '--warmup', '0', '--reps', '1'
    ])
    run = res['runs'][0]['results']
    # 16-px mask patches on the 8-px ViT: 4x4 mask grid, ceil rounding
    assert run['baseline']['tokens']['thrown'] == 0
    assert run['config']['tokens']['thrown'] > 0
    with pytest.raises(ValueError, match='needs --device cuda'):
        tool.main(
            [configs['simmim_amt'], '--batch-size', '2', '--device', 'cpu', '--precision', 'bf16'])


def test_flops_tool(configs):
    tool = load_tool('get_pretrain_flops')
    amt = tool.main([configs['mae_amt']])
    mae = tool.main([configs['mae']])
    assert 0 < amt['gflops_per_image'] < mae['gflops_per_image']


def test_refresh_tool(configs):
    tool = load_tool('benchmark_refresh')
    out = tool.main([
        configs['mae_amt'], '--batch-size', '2', '--device', 'cpu', '--dataset-size', '1000',
        '--warmup', '0', '--reps', '1'
    ])
    # the demo schedule: 20 epochs, refreshed after 4, 8, 12 and 16
    assert (out['epochs'], out['refreshes']) == (20, 4)
    assert 0 < out['share'] < 1 and out['refresh_img_per_s'] > 0
    assert out['source'] == 'last-layer [CLS] attention, heads averaged'  # the default's record


def test_refresh_tool_times_the_configs_map_source(configs, monkeypatch):
    import importlib
    module = importlib.import_module('mmamt.analysis.refresh_cost')
    from mmamt.models.utils import PatchAttentionMap
    seen = []
    real = module.batch_maps

    def spy(model, inputs, norm, **kwargs):
        seen.append(kwargs['source'])
        return real(model, inputs, norm, **kwargs)

    monkeypatch.setattr(module, 'batch_maps', spy)
    key = 'default_hooks.amt_refresh.map_source'
    out = load_tool('benchmark_refresh').main([
        configs['mae_amt'], '--batch-size', '2', '--device', 'cpu', '--dataset-size', '1000',
        '--warmup', '0', '--reps', '1', '--cfg-options', f'{key}.type=PatchAttentionMap',
        f'{key}.layers=[0]'
    ])
    assert seen and all(isinstance(s, PatchAttentionMap) and s.layers == (0, ) for s in seen)
    assert out['source'] == dict(type='PatchAttentionMap', layers=[0])


def test_refresh_share_formula():
    from mmamt.analysis import refresh_share

    # 9 refreshes of 1000 images at 100 img/s = 90 s; 400 epochs at 1000 img/s = 400 s.
    assert refresh_share(9, 400, 1000, 100.0, 1000.0) == pytest.approx(90 / 490)


def test_pipeline_tool(configs):
    tool = load_tool('benchmark_pipeline')
    p = tool.main([
        configs['mae_amt'], '--baseline', configs['mae'], '--images', '4', '--reps', '1',
        '--source', '80', '60'
    ])
    assert p['baseline_ms_per_sample'] > 0 and p['config_ms_per_sample'] > 0
    assert 'overhead' in p and 'overhead_with_decode' in p
    assert {'LoadAttentionMap', 'AMTMaskGenerator'} <= set(p['per_transform_us']['config'])
    assert 'LoadAttentionMap' not in p['per_transform_us']['baseline']


def test_bank_memory_probe_counts_a_shared_tensor_once():
    """The bank tool's probes see a torch shared tensor as shared memory, not as private."""
    import os

    import torch
    tool = load_tool('benchmark_bank_memory')
    pid = os.getpid()
    before = tool.shm_mapping_pss_kb(pid)
    shared = torch.full((4 * 2**20, ), 7, dtype=torch.uint8).share_memory_()  # 4 MiB, touched
    after = tool.shm_mapping_pss_kb(pid)
    assert after - before == pytest.approx(4096, abs=8)
    pss = tool.pss_kb(pid)
    assert pss['Pss_Shmem'] >= 4096 and pss['Pss'] >= pss['Pss_Anon']
    del shared
