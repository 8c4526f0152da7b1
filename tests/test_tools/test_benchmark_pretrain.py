import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool(name):
    path = ROOT / 'tools' / 'analysis_tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    tool = load_tool('benchmark_pretrain')
    out = tmp_path_factory.mktemp('bench') / 'bench.json'
    tool.main(['--arch', 'tiny', '--img-size', '64', '--batch-size', '2', '--device', 'cpu',
               '--warmup', '1', '--reps', '2', '--pipeline-images', '6', '--pipeline-reps', '2',
               '--dataset-size', '1000', '--json', str(out)])
    return json.loads(out.read_text())


def test_every_variant_has_every_key(results):
    keys = {'step_time_s', 'img_per_s', 'peak_mem_mb', 'gflops', 'speedup_vs_baseline',
            'flops_ratio'}
    assert set(results['variants']) == {'MAE', 'MAE-AMT', 'SimMIM-ViT', 'SimMIM-AMT'}
    for name, v in results['variants'].items():
        assert keys <= set(v), name
        assert v['step_time_s'] > 0 and v['img_per_s'] > 0 and v['gflops'] > 0, name
        # At least the parameters and the AdamW states are resident.
        assert v['peak_mem_mb'] >= v['state_mem_mb'] > 0, name
        assert len(v['step_times_s']) == 2, name


def test_throwing_cuts_tokens_and_flops(results):
    v = results['variants']
    # 64 px, patch 16: 16 patches. MAE keeps 4 visible; MAE-AMT 7 masked, 6 thrown, 3 visible.
    assert v['MAE']['tokens'] == dict(visible=4, masked=12, thrown=0)
    assert v['MAE-AMT']['tokens'] == dict(visible=3, masked=7, thrown=6)
    assert v['MAE-AMT']['decoder_tokens'] < v['MAE']['decoder_tokens']
    assert v['MAE-AMT']['flops_ratio'] < 1
    # SimMIM 2x2 grid of 32-px mask patches: ceil(0.44 * 4) = 2 masked; AMT also throws 1.
    assert v['SimMIM-ViT']['tokens']['thrown'] == 0
    assert v['SimMIM-AMT']['tokens'] == dict(visible=4, masked=8, thrown=4)
    assert v['SimMIM-AMT']['flops_ratio'] < 1
    for name in ('MAE', 'SimMIM-ViT'):
        assert v[name]['flops_ratio'] == pytest.approx(1.0)
        assert v[name]['speedup_vs_baseline'] == pytest.approx(1.0)


def test_refresh_section(results):
    r = results['refresh']
    assert r['MAE']['refreshes'] == len(range(40, 400, 40)) == 9
    assert r['SimMIM']['refreshes'] == len(range(40, 200, 40)) == 4
    for key in ('MAE', 'SimMIM'):
        assert 0 < r[key]['share'] < 1 and r[key]['img_per_s'] > 0
    check = r['nxn_check']
    # The last block's CLS path never forms a (tokens x tokens) attention matrix.
    assert check['tokens'] == 17
    assert check['last_block_nxn_outputs'] == 0 and not check['forms_nxn']
    assert 0 < check['last_block_flops_ratio'] < 0.5


def test_pipeline_section(results):
    p = results['pipeline']
    assert p['mae_ms_per_sample'] > 0 and p['amt_ms_per_sample'] > 0
    assert 'overhead' in p and 'overhead_with_decode' in p
    assert {'LoadAttentionMap', 'AMTMaskGenerator'} <= set(p['per_transform_us']['MAE-AMT'])
    assert set(results['targets']) >= {'MAE-AMT speedup vs MAE', 'AMT transforms overhead'}


def test_refresh_share_formula():
    tool = load_tool('benchmark_pretrain')
    # 9 refreshes of 1000 images at 100 img/s = 90 s; 400 epochs at 1000 img/s = 400 s.
    assert tool.refresh_share(9, 400, 1000, 100.0, 1000.0) == pytest.approx(90 / 490)


def test_shape_recorder_sees_a_materialised_attention():
    """The N x N check must be able to fail: a naive attention is caught."""
    import torch
    tool = load_tool('benchmark_pretrain')
    q = torch.randn(2, 4, 17, 8)
    with tool.ShapeRecorder(batch=2) as rec:
        (q @ q.transpose(-2, -1)).softmax(-1)
    assert rec.square(17)


def test_bank_memory_probe_counts_a_shared_tensor_once():
    """The bank tool's probes see a torch shared tensor as shared memory, not as private."""
    import os

    import torch
    tool = load_tool('benchmark_bank_memory')
    pid = os.getpid()
    before = tool.shm_mapping_pss_kb(pid)
    shared = torch.full((4 * 2**20,), 7, dtype=torch.uint8).share_memory_()  # 4 MiB, touched
    after = tool.shm_mapping_pss_kb(pid)
    assert after - before == pytest.approx(4096, abs=8)
    pss = tool.pss_kb(pid)
    assert pss['Pss_Shmem'] >= 4096 and pss['Pss'] >= pss['Pss_Anon']
    del shared
