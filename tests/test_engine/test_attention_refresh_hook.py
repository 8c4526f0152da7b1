"""The attention loop in real Runner runs: refresh, persistent workers, resume."""
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import mmamt  # noqa: F401
from mmamt.engine.hooks import AttentionRefreshHook
from mmamt.utils.amt_config import mask_generator_cfg
from ._amt_runner import tiny_cfg


class MaskRecorder(Hook):
    """Record every training batch's masks and sample indices, per epoch."""

    priority = 'LOWEST'

    def __init__(self):
        self.masks = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        rec = self.masks.setdefault(runner.epoch, [])
        for s in data_batch['data_samples']:
            rec.append((int(s.sample_idx), s.mask.clone()))


def refresh_hook(runner) -> AttentionRefreshHook:
    return next(h for h in runner.hooks if isinstance(h, AttentionRefreshHook))


def test_schedule():
    hook = AttentionRefreshHook(start_epoch=40, interval=40)
    assert hook.refresh_epochs(400) == [40, 80, 120, 160, 200, 240, 280, 320, 360]
    assert AttentionRefreshHook(start_epoch=2, interval=2).refresh_epochs(4) == [2]  # not at 4
    assert hook.due_refresh(119, 400) == 80 and hook.due_refresh(39, 400) is None
    with pytest.raises(ValueError, match='start_epoch'):
        AttentionRefreshHook(start_epoch=0)
    with pytest.raises(ValueError, match='interval'):
        AttentionRefreshHook(interval=0)
    # the generator owns map_norm; the hook names where it moved
    with pytest.raises(
            ValueError,
            match=r'default_hooks.amt_refresh.map_norm has moved to '
            r'train_dataloader.dataset.pipeline.AMTMaskGenerator.map_norm'):
        AttentionRefreshHook(map_norm='max')


def test_the_generators_map_norm_reaches_the_bank(synthetic_root, tmp_path):
    """``AMTMaskGenerator(map_norm='max')`` banks maps proportional to the head-averaged
    attention: each map's maximum is 255 and no patch is 0. Min-max maps average heads that were
    stretched one by one, so a map reaches 255 only where all heads peak on the same patch."""
    banks = {}
    for norm in ('minmax', 'max'):
        cfg = tiny_cfg(
            synthetic_root,
            tmp_path / norm,
            max_epochs=2,
            start_epoch=1,
            interval=1,
            num_workers=0,
            crop=False)
        mask_generator_cfg(cfg)['map_norm'] = norm
        runner = Runner.from_cfg(cfg)
        runner.train()
        hook = refresh_hook(runner)
        assert hook.bank.num_refreshes == 1 and hook.bank.made_with['maps']['map_norm'] == norm
        banks[norm] = hook.bank.maps.flatten(1).int()
    # same seed, same training until the refresh: only the normalisation differs
    assert (banks['max'].amax(1) == 255).all() and (banks['max'].amin(1) > 0).all()
    assert (banks['minmax'].amax(1) < 255).float().mean() > 0.5
    assert not torch.equal(banks['max'], banks['minmax'])


def test_refresh_reaches_persistent_workers_and_masks_follow_maps(synthetic_root, tmp_path):
    cfg = tiny_cfg(
        synthetic_root,
        tmp_path,
        max_epochs=3,
        start_epoch=1,
        interval=1,
        num_workers=2,
        crop=False)
    runner = Runner.from_cfg(cfg)
    recorder = MaskRecorder()
    runner.register_hook(recorder)
    banks = {}

    class BankSnapshot(Hook):
        priority = 'LOWEST'

        def after_train_epoch(self, runner):
            banks[runner.epoch] = refresh_hook(runner).bank.maps.clone()

    runner.register_hook(BankSnapshot())
    runner.train()
    hook = refresh_hook(runner)
    n = len(runner.train_dataloader.dataset)
    assert runner.train_dataloader.persistent_workers
    # refreshed after epochs 1 and 2 (completed), never after the last (3)
    assert hook.bank.num_refreshes == 2 and hook.bank.last_refresh_epoch == 2
    assert hook.last_refresh_writes == n
    assert (tmp_path / 'amt_bank' / 'epoch_1.pth').exists()
    assert (tmp_path / 'amt_bank' / 'epoch_2.pth').exists()
    assert not (tmp_path / 'amt_bank' / 'epoch_3.pth').exists()
    # epoch 0 (before the first refresh): random masking 0.75, no throwing
    for _, m in recorder.masks[0]:
        assert (m == -1).sum() == 0 and (m == 1).sum() == 12
    # epochs 1, 2 (after refreshes): AMT counts, read by the same persistent workers
    for epoch in (1, 2):
        assert len(recorder.masks[epoch]) == n
        for _, m in recorder.masks[epoch]:
            assert (m == 1).sum() == 8 and (m == -1).sum() == 4
    # the masks of the epoch after a refresh follow the maps of that refresh
    for epoch in (1, 2):
        maps = banks[epoch - 1].float() / 255  # the bank as the refresh left it
        gap = []
        for idx, m in recorder.masks[epoch]:
            a = maps[idx]
            if a.std() > 0.05:
                gap.append(a[m == 1].mean() - a[m == 0].mean())
        assert len(gap) > n // 2
        assert np.mean(gap) > 0.1
    assert not torch.equal(banks[0], banks[1])  # the second refresh really rewrote the maps


def test_resume_restores_bank_bit_for_bit(synthetic_root, tmp_path):
    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'a', max_epochs=2, start_epoch=1, interval=1, num_workers=0)
    first = Runner.from_cfg(cfg)
    first.train()
    bank = refresh_hook(first).bank
    assert bank.active
    ckpt = tmp_path / 'a' / 'epoch_2.pth'
    saved = torch.load(ckpt, map_location='cpu')['amt_bank']
    assert saved['maps'].dtype == torch.uint8  # one byte per patch
    assert torch.equal(saved['maps'], bank.maps)

    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'b', max_epochs=3, start_epoch=1, interval=5, num_workers=0)
    cfg.resume, cfg.load_from = True, str(ckpt)
    second = Runner.from_cfg(cfg)
    restored = {}

    class Probe(Hook):

        def before_train(self, runner):
            b = refresh_hook(runner).bank
            restored.update(maps=b.maps.clone(), active=b.active, epoch=runner.epoch)

    second.register_hook(Probe())
    recorder = MaskRecorder()
    second.register_hook(recorder)
    second.train()
    assert restored['epoch'] == 2
    assert restored['active'] is True
    assert torch.equal(restored['maps'], bank.maps)
    # no refresh happened on resume (interval 5), yet AMT masks are drawn in epoch 3
    assert refresh_hook(second).bank.num_refreshes == bank.num_refreshes
    assert all((m == -1).sum() == 4 for _, m in recorder.masks[2])


def test_stop_epoch_ends_amt_and_a_resume_after_it_stays_stopped(synthetic_root, tmp_path):
    """AMT from epoch 1, refreshes after 1 and 2, stopped after 3 of 4: epoch 4 masks at random
    at random_mask_ratio (MAE's counts, nothing thrown); a resume from a checkpoint saved
    while AMT ran, with the stop already passed, stops before training continues."""
    with pytest.raises(ValueError, match='stop_epoch=2 must be an integer >= 3'):
        AttentionRefreshHook(start_epoch=2, stop_epoch=2)
    assert AttentionRefreshHook(start_epoch=1, interval=1, stop_epoch=3).refresh_epochs(6) == [1, 2]
    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'a', max_epochs=4, start_epoch=1, interval=1, num_workers=2)
    cfg.default_hooks.amt_refresh['stop_epoch'] = 3
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    runner = Runner.from_cfg(cfg)
    recorder = MaskRecorder()
    runner.register_hook(recorder)
    runner.train()
    bank = refresh_hook(runner).bank
    assert bank.num_refreshes == 2 and bank.last_refresh_epoch == 2 and not bank.active
    thrown = {e: {int((m == -1).sum()) for _, m in recorder.masks[e]} for e in range(4)}
    masked = {e: {int((m == 1).sum()) for _, m in recorder.masks[e]} for e in range(4)}
    assert thrown == {0: {0}, 1: {4}, 2: {4}, 3: {0}}  # persistent workers saw the stop
    assert masked == {0: {12}, 1: {8}, 2: {8}, 3: {12}}

    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'b', max_epochs=4, start_epoch=1, interval=1, num_workers=0)
    cfg.default_hooks.amt_refresh['stop_epoch'] = 2
    cfg.resume, cfg.load_from = True, str(tmp_path / 'a' / 'epoch_2.pth')  # AMT active in it
    second = Runner.from_cfg(cfg)
    recorder = MaskRecorder()
    second.register_hook(recorder)
    second.train()
    assert not refresh_hook(second).bank.active
    assert refresh_hook(second).bank.num_refreshes == 2  # no refresh after the stop
    assert all((m == -1).sum() == 0 and (m == 1).sum() == 12 for _, m in recorder.masks[2])


def test_resume_with_a_different_grid_is_refused(synthetic_root, tmp_path):
    # (a different training set is resumed with recomputed maps: test_faults_resume.py)
    cfg = tiny_cfg(synthetic_root, tmp_path / 'a', max_epochs=1, start_epoch=1, num_workers=0)
    Runner.from_cfg(cfg).train()
    ckpt = torch.load(tmp_path / 'a' / 'epoch_1.pth', map_location='cpu', weights_only=False)
    ckpt['amt_bank']['grid'] = [8, 8]
    ckpt['amt_bank']['maps'] = torch.zeros(ckpt['amt_bank']['num_samples'], 8, 8, dtype=torch.uint8)
    bad = tmp_path / 'bad.pth'
    torch.save(ckpt, bad)
    cfg = tiny_cfg(synthetic_root, tmp_path / 'b', max_epochs=2, num_workers=0)
    cfg.resume, cfg.load_from = True, str(bad)
    with pytest.raises(ValueError, match=r'grid=\(8, 8\) but the model gives \(4, 4\)'):
        Runner.from_cfg(cfg).train()


def test_pipeline_without_load_attention_map_is_refused(synthetic_root, tmp_path):
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0)
    cfg.train_dataloader.dataset.pipeline.pop(1)
    with pytest.raises(ValueError, match='LoadAttentionMap'):
        Runner.from_cfg(cfg).train()


def test_map_source_is_recorded_and_a_resume_with_another_recomputes(synthetic_root, tmp_path):
    """``map_source`` reaches the bank (its record is the source config), the bank's maps are
    that source's, and a resume with another source discards them: the refresh after epoch 1,
    which the discarded bank had seen, runs again with the config's source."""
    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'a', max_epochs=2, start_epoch=1, interval=1, num_workers=0)
    cfg.default_hooks.amt_refresh.map_source = dict(type='PatchAttentionMap', layers=[0, -1])
    first = Runner.from_cfg(cfg)
    first.train()
    bank = refresh_hook(first).bank
    assert bank.made_with['maps']['source'] == dict(type='PatchAttentionMap', layers=[0, -1])
    assert bank.active and bank.num_refreshes == 1
    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'b', max_epochs=3, start_epoch=1, interval=5, num_workers=0)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'a' / 'epoch_2.pth')
    second = Runner.from_cfg(cfg)
    restored = {}

    class Probe(Hook):

        def before_train(self, runner):
            b = refresh_hook(runner).bank
            restored.update(active=b.active, maps=b.maps.clone(), n=b.num_refreshes)

    second.register_hook(Probe())
    second.train()
    assert restored['active'] and restored['n'] == 1  # recomputed before epoch 3
    assert not torch.equal(restored['maps'], bank.maps)
    assert refresh_hook(second).bank.made_with['maps']['source'] == \
        'last-layer [CLS] attention, heads averaged'


def test_an_unknown_map_source_is_refused_when_the_hook_is_built():
    with pytest.raises(ValueError, match=r"AttentionRefreshHook: map_source.type='Nope' is not"):
        AttentionRefreshHook(map_source='Nope')


def test_ema_refresh_reads_the_averaged_weights_and_resumes_them(synthetic_root, tmp_path):
    """With ``ema_momentum`` the refresh's maps are those of the weights' average (not of the
    weights), the bank records the momentum, and a resume continues the average saved in the
    checkpoint."""
    from mmamt.engine.refresh import compute_maps, refresh_view
    from mmamt.utils.amt_config import mask_generator_arg
    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'a', max_epochs=2, start_epoch=1, interval=1, num_workers=0)
    cfg.default_hooks.amt_refresh.ema_momentum = 0.5
    runner = Runner.from_cfg(cfg)
    seen = {}

    class AfterRefresh(Hook):
        priority = 'LOW'  # after the refresh hook's after_train_epoch

        def after_train_epoch(self, runner):
            if runner.epoch == 0:
                hook = refresh_hook(runner)
                view = refresh_view(runner.train_dataloader.dataset, (32, 32))
                n = len(hook.bank)
                for name, model in (('ema', hook.ema.module), ('model', runner.model)):
                    _, maps = compute_maps(model, view, range(n), 4,
                                           mask_generator_arg(runner.cfg, 'map_norm'))
                    seen[name] = maps
                seen['bank'] = hook.bank.maps.clone()

    runner.register_hook(AfterRefresh())
    runner.train()
    hook = refresh_hook(runner)
    assert hook.bank.made_with['maps']['ema_momentum'] == 0.5
    assert torch.equal(seen['bank'], seen['ema'])
    assert not torch.equal(seen['ema'], seen['model'])
    steps = int(hook.ema.steps)
    assert steps == runner.iter  # one update per training step
    saved = torch.load(tmp_path / 'a' / 'epoch_2.pth', map_location='cpu')
    assert int(saved['amt_refresh_ema']['steps']) == steps

    cfg = tiny_cfg(
        synthetic_root, tmp_path / 'b', max_epochs=3, start_epoch=1, interval=5, num_workers=0)
    cfg.default_hooks.amt_refresh.ema_momentum = 0.5
    cfg.resume, cfg.load_from = True, str(tmp_path / 'a' / 'epoch_2.pth')
    second = Runner.from_cfg(cfg)
    resumed = {}

    class Probe(Hook):

        def before_train(self, runner):
            ema = refresh_hook(runner).ema
            resumed.update(
                steps=int(ema.steps),
                state={
                    k: v.clone()
                    for k, v in ema.module.state_dict().items()
                })

    second.register_hook(Probe())
    second.train()
    assert resumed['steps'] == steps
    for k, v in hook.ema.module.state_dict().items():
        assert torch.equal(resumed['state'][k], v), k
    for bad in (0, 1, 1.5, True, '0.1'):
        with pytest.raises(ValueError, match=r'ema_momentum=.* must be a number in \(0, 1\)'):
            AttentionRefreshHook(ema_momentum=bad)
