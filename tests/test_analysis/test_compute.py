"""Training FLOPs of whole runs, refreshes included, and the epochs of equal compute."""
import os.path as osp

import pytest

from mmamt.analysis import RequestError, Variant, compare
from mmamt.analysis.compute import equal_compute_epochs, forward_gflops, run_gflops, variant_gflops
from mmamt.analysis.variants import dry_run_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMT = osp.join(REPO, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py')
MAE = osp.join(REPO, 'configs', 'demo', 'mae_vit-tiny-p8_1xb32-20e_synthetic.py')
FAKE = dict(random=1.0, amt=0.5, refresh=2.0)


def test_forward_counts_each_phase_and_the_source_of_the_refresh(tmp_path):
    amt = forward_gflops(dry_run_config(Variant('amt', AMT), str(tmp_path), 20))
    mae = forward_gflops(dry_run_config(Variant('mae', MAE), str(tmp_path), 20))
    assert 0 < amt['amt'] < 0.9 * amt['random']  # AMT's step: fewer patches through it
    assert mae['refresh'] == 0 and mae['amt'] == mae['random']
    assert amt['random'] == pytest.approx(mae['random'], rel=0.05)  # the same random masking
    # the refresh runs the whole encoder at every patch: more than a masked step's forward
    assert amt['refresh'] > amt['amt']
    first_block = Variant('p0', AMT, {
        'refresh_hook.map_source': 'PatchAttentionMap',
        'refresh_hook.map_source.layers': [0]
    })
    assert forward_gflops(dry_run_config(first_block, str(tmp_path),
                                         20))['refresh'] < 0.6 * amt['refresh']
    # the reconstruction-loss map: 4 masked forwards, each MAE's 0.75 random step
    loss = Variant('loss', AMT, {'refresh_hook.map_source': 'ReconstructionLossMap'})
    refresh = forward_gflops(dry_run_config(loss, str(tmp_path), 20))['refresh']
    assert refresh == pytest.approx(4 * amt['random'], rel=0.1)


def test_run_sums_the_steps_of_each_phase_and_the_refreshes(tmp_path):
    # 40 epochs: AMT from epoch 8, a refresh after epochs 8, 16, 24, 32
    g = run_gflops(dry_run_config(Variant('amt', AMT), str(tmp_path), 40), FAKE)
    assert (g['amt_epochs'], g['refreshes']) == (32, 4)
    assert (g['train'], g['refresh'], g['total']) == (3 * (0.5 * 32 + 8), 8.0, 80.0)
    stopped = Variant('stop', AMT, {'refresh_hook.stop_epoch': 24})
    g = run_gflops(dry_run_config(stopped, str(tmp_path), 40), FAKE)
    assert (g['amt_epochs'], g['refreshes'], g['total']) == (16, 2, 3 * (8 + 24) + 4)
    g = run_gflops(dry_run_config(Variant('mae', MAE), str(tmp_path), 40), FAKE)
    assert (g['amt_epochs'], g['refreshes'], g['total']) == (0, 0, 120.0)


def test_equal_compute_finds_the_nearest_epochs(tmp_path):
    data = str(tmp_path)
    budget = variant_gflops(Variant('mae', MAE), data, 40, FAKE)['total']  # 120
    amt = Variant('amt', AMT)
    epochs = equal_compute_epochs(amt, data, budget, FAKE)
    totals = {
        e: variant_gflops(amt, data, e, FAKE)['total']
        for e in (epochs - 1, epochs, epochs + 1)
    }
    assert totals[epochs - 1] < budget <= totals[epochs + 1]
    assert min(totals, key=lambda e: abs(totals[e] - budget)) == epochs
    assert epochs > 40  # AMT's steps cost half: more epochs for the same compute
    same = dict(random=1.0, amt=1.0, refresh=0.0)
    assert equal_compute_epochs(amt, data, budget, same) == 40
    with pytest.raises(ValueError, match='budget must be > 0'):
        equal_compute_epochs(amt, data, 0.0, FAKE)


def test_equal_compute_names_a_variant(tmp_path, synthetic_root):
    work = tmp_path / 'work'
    with pytest.raises(RequestError, match="--equal-compute 'mea' is not a variant"):
        compare([Variant('mae', MAE), Variant('amt', AMT)],
                str(synthetic_root / 'imagenet'),
                str(work),
                2, [0],
                equal_compute='mea')
    assert not work.exists()
