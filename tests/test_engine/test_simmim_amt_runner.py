"""SimMIM-AMT in Runner runs: through the AMT start epoch, and resumed before, at and after it."""
import math

import pytest
import torch
from mmengine.runner import Runner

import mmamt  # noqa: F401
from ._amt_runner import tiny_cfg
from .test_attention_refresh_hook import MaskRecorder, refresh_hook


def _amt(m):  # 8-px mask patches on 4-px tokens: 8 masked, 4 thrown mask patches
    return (m == 1).sum() == 32 and (m == -1).sum() == 16


def _random(m):
    return (m == 1).sum() == 48 and (m == -1).sum() == 0


@pytest.fixture(scope='module')
def first_run(synthetic_root, tmp_path_factory):
    """4 epochs, AMT from epoch 3 (refresh after epoch 2), a checkpoint every epoch."""
    work = tmp_path_factory.mktemp('simmim')
    cfg = tiny_cfg(
        synthetic_root, work, max_epochs=4, start_epoch=2, interval=5, num_workers=0, algo='simmim')
    runner = Runner.from_cfg(cfg)
    recorder = MaskRecorder()
    runner.register_hook(recorder)
    runner.train()
    return runner, recorder, work


def test_runs_through_the_start_epoch(first_run):
    runner, recorder, _ = first_run
    assert refresh_hook(runner).bank.last_refresh_epoch == 2
    for epoch in (0, 1):
        assert all(_random(m) for _, m in recorder.masks[epoch])
    for epoch in (2, 3):
        assert all(_amt(m) for _, m in recorder.masks[epoch])
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())


@pytest.mark.parametrize('resume_epoch,expect_amt', [(1, False), (2, True), (3, True)])
def test_resume_across_the_start_epoch(first_run, synthetic_root, tmp_path, resume_epoch,
                                       expect_amt):
    runner, _, work = first_run
    cfg = tiny_cfg(
        synthetic_root,
        tmp_path,
        max_epochs=4,
        start_epoch=2,
        interval=5,
        num_workers=0,
        algo='simmim')
    cfg.resume, cfg.load_from = True, str(work / f'epoch_{resume_epoch}.pth')
    resumed = Runner.from_cfg(cfg)
    recorder = MaskRecorder()
    resumed.register_hook(recorder)
    resumed.train()
    first = recorder.masks[resume_epoch]  # the first epoch trained after resuming
    assert all((_amt if expect_amt else _random)(m) for _, m in first)
    assert all(_amt(m) for _, m in recorder.masks[3])  # AMT by the last epoch in every case
    bank = refresh_hook(resumed).bank
    assert bank.active and bank.last_refresh_epoch == 2
    if resume_epoch >= 2:  # restored, not recomputed: bit for bit the first run's bank
        assert bank.num_refreshes == 1
        assert torch.equal(bank.maps, refresh_hook(runner).bank.maps)
    assert torch.isfinite(torch.tensor(resumed.message_hub.get_scalar('train/loss').current()))
