"""`make demo`'s core path, 2 epochs: the digits, MAE and MAE-AMT through the harness, a summary."""
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _demo_module():
    spec = importlib.util.spec_from_file_location('mmamt_demo', osp.join(REPO, 'tools', 'demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_core_path_writes_the_summary(tmp_path):
    demo = _demo_module()
    work = tmp_path / 'demo'
    lines = []
    result = demo.run_demo(
        str(work),
        str(tmp_path / 'digits'),
        epochs=2,
        seeds=(0, ),
        jobs=2,
        num_panels=2,
        log=lines.append)
    with open(work / 'summary.json') as f:
        summary = json.load(f)
    assert summary == json.loads(json.dumps(result))
    for key in ('random', 'mae', 'mae-amt'):
        assert 0.0 <= summary['probe_top1'][key] <= 100.0
    # Equal compute (the default): at 2 MAE epochs the refresh over 1,198 digits costs what
    # AMT's one epoch with fewer tokens saves, so the nearest equal-FLOP length is 2 epochs too.
    assert summary['epochs'] == {'mae': 2, 'mae-amt': 2} and summary['equal_compute']
    assert set(summary['seconds_per_epoch']) == {'mae', 'mae-amt'}
    assert all(v > 0 for v in summary['seconds_per_epoch'].values())
    # 64 px / patch 8 = 64 patches: MAE keeps 16 visible, MAE-AMT (0.75 masked + 0.10 thrown,
    # active in epoch 2 after the refresh after epoch 1) keeps 10; [CLS] counts as a token.
    assert summary['encoder_tokens_per_image'] == {'mae': 17.0, 'mae-amt': 11.0}
    # 2 epochs: AMT's one epoch with fewer tokens costs less than the refresh over 1,198 digits
    flops = summary['train_gflops_per_image']
    assert flops['mae'] > 0 and flops['mae-amt'] > 0 and flops['mae-amt'] != flops['mae']
    assert all(s > 0 for s in summary['run_seconds'].values())
    (refresh, ) = summary['attention_per_refresh']
    assert refresh['epoch'] == 1 and 0 < refresh['object_share'] < 1
    # The real handwriting: 1,198 train / 599 val digits, each with its digit mask.
    assert (summary['num_train'], summary['num_val']) == (1198, 599)
    assert 0.1 < refresh['area_share'] < 0.6
    # While the runs train, the harness reports their epochs (epoch 2 of 2 at least).
    assert any('epoch 2/2' in line for line in lines)
    assert all(osp.isfile(p) for p in summary['checkpoints'].values())
    assert summary['num_panels'] == 2
    text = demo.format_summary(summary)
    assert 'MAE-AMT' in text and 'random init' in text and len(text.splitlines()) < 40
    # A second run reuses the finished pre-training runs.
    demo.run_demo(
        str(work), str(tmp_path / 'digits'), epochs=2, jobs=2, num_panels=2, log=lines.append)
    assert sum('reusing' in line for line in lines) == 2
