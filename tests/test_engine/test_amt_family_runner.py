"""The attention loop with each newer AMT algorithm (MFF, MaskFeat, EVA) in Runner runs.

A run of 3 epochs refreshes the maps after epoch 1 and trains epochs 2-3 with AMT masks; a run
resumed from its epoch-2 checkpoint restores the bank bit for bit (no second refresh), trains
the last epoch with AMT masks and ends with the weights of the uninterrupted run's schedule.
EVA's teacher is a tiny randomly initialised CLIP (no test downloads CLIP).
"""
import math

import pytest
import torch
from mmengine.runner import Runner

import mmamt  # noqa: F401
from mmamt.testing.tiny_teacher import write_tiny_clip
from ._amt_runner import SIZES, tiny_cfg
from .test_attention_refresh_hook import MaskRecorder, refresh_hook


def _counts(algo):
    img, model_patch, mask_patch = SIZES[algo]
    cells = (img // mask_patch)**2
    per_cell = (mask_patch // model_patch)**2
    return int(cells * 0.5) * per_cell, int(cells * 0.25) * per_cell  # tiny_cfg's ratios


def _cfg(data_root, work_dir, algo, teacher):
    """3 epochs, the refresh after epoch 1 (and no other), a checkpoint every epoch."""
    return tiny_cfg(
        data_root,
        work_dir,
        max_epochs=3,
        start_epoch=1,
        interval=5,
        num_workers=0,
        algo=algo,
        teacher=teacher)


@pytest.fixture(scope='module', params=['mff', 'maskfeat', 'eva'])
def first_run(request, synthetic_root, tmp_path_factory):
    algo = request.param
    work = tmp_path_factory.mktemp(algo)
    teacher = write_tiny_clip(str(work / 'clip.pth'), 32, 8, embed_dim=16)
    runner = Runner.from_cfg(_cfg(synthetic_root, work, algo, teacher))
    recorder = MaskRecorder()
    runner.register_hook(recorder)
    runner.train()
    return algo, runner, recorder, work, teacher


def test_refreshes_then_trains_with_amt_masks(first_run):
    algo, runner, recorder, _, _ = first_run
    n_mask, n_throw = _counts(algo)
    assert refresh_hook(runner).bank.last_refresh_epoch == 1
    assert all((m == -1).sum() == 0 for _, m in recorder.masks[0])  # random masking first
    for epoch in (1, 2):
        assert all((m == 1).sum() == n_mask and (m == -1).sum() == n_throw
                   for _, m in recorder.masks[epoch])
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())


def test_resume_keeps_the_bank_and_amt(first_run, synthetic_root, tmp_path):
    algo, runner, _, work, teacher = first_run
    n_mask, n_throw = _counts(algo)
    cfg = _cfg(synthetic_root, tmp_path, algo, teacher)
    cfg.resume, cfg.load_from = True, str(work / 'epoch_2.pth')
    resumed = Runner.from_cfg(cfg)
    recorder = MaskRecorder()
    resumed.register_hook(recorder)
    resumed.train()
    assert resumed.epoch == 3 and sorted(recorder.masks) == [2]
    assert all(
        (m == 1).sum() == n_mask and (m == -1).sum() == n_throw for _, m in recorder.masks[2])
    bank = refresh_hook(resumed).bank
    assert bank.num_refreshes == 1 and bank.last_refresh_epoch == 1
    assert torch.equal(bank.maps, refresh_hook(runner).bank.maps)
    assert math.isfinite(resumed.message_hub.get_scalar('train/loss').current())


def test_panels_are_refused_before_training_for_a_model_without_pixels(tmp_path):
    """Panels draw reconstructions: MaskFeat-AMT (HOG) refuses them in before_run, not at the
    first refresh epochs later; MFF-AMT (pixels) draws them."""
    from mmpretrain.registry import MODELS

    from mmamt.engine.bank_setup import check_panels
    from mmamt.visualization import AMTVisualizer
    from ._amt_runner import tiny_model
    visualizer = AMTVisualizer(name=f'panels_{tmp_path.name}')
    with pytest.raises(ValueError, match='num_panels=2 draws pixel reconstructions'):
        check_panels(2, visualizer, MODELS.build(tiny_model('maskfeat')))
    check_panels(2, visualizer, MODELS.build(tiny_model('mff')))
    check_panels(0, object(), MODELS.build(tiny_model('maskfeat')))
    with pytest.raises(ValueError, match='AMTVisualizer'):
        check_panels(1, object(), MODELS.build(tiny_model('mff')))
