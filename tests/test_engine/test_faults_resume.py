"""Resuming with a changed training set, and extending a run."""
import os
import shutil

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmamt.datasets import AttentionBank, dataset_identity
from mmamt.engine.refresh import compute_maps, refresh_view
from ._amt_runner import tiny_cfg
from ._faults import copy_data, refresh_hook, train_images


class BankProbe(Hook):
    """The bank as training starts (after a resume and any refresh it triggers)."""

    priority = 'LOWEST'

    def __init__(self, fresh=False):
        self.fresh = fresh
        self.seen = {}

    def before_train(self, runner):
        hook = refresh_hook(runner)
        bank = hook.bank
        self.seen.update(
            maps=bank.maps.clone(),
            last=bank.last_refresh_epoch,
            refreshes=bank.num_refreshes,
            active=bank.active)
        if self.fresh:  # what a refresh with the resumed model gives on the current data
            view = refresh_view(runner.train_dataloader.dataset, runner.model.backbone.input_size)
            idx, maps = compute_maps(runner.model, view, range(len(bank)), 8,
                                     bank.made_with['maps']['map_norm'])
            self.seen['fresh'] = torch.zeros_like(bank.maps)
            self.seen['fresh'][idx] = maps


def _resume(data_root, work_dir, ckpt, max_epochs, probe, **kwargs):
    cfg = tiny_cfg(data_root, work_dir, max_epochs=max_epochs, num_workers=0, **kwargs)
    cfg.resume, cfg.load_from = True, str(ckpt)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(probe)
    runner.train()
    return runner


def test_changed_training_set_recomputes_the_maps(synthetic_root, tmp_path, capsys):
    data = copy_data(synthetic_root, tmp_path / 'data')
    first = Runner.from_cfg(
        tiny_cfg(data, tmp_path / 'a', max_epochs=2, start_epoch=1, interval=1, num_workers=0))
    first.train()
    ckpt = torch.load(tmp_path / 'a' / 'epoch_1.pth', map_location='cpu')
    data_id = dataset_identity(first.train_dataloader.dataset)
    # the identity of the data is saved with the bank, in the checkpoint and the bank files
    assert ckpt['amt_bank']['data_id'] == data_id and data_id.startswith('sha256:')
    assert AttentionBank.from_file(str(tmp_path / 'a' / 'amt_bank' / 'epoch_1.pth')).data_id \
        == data_id
    assert ckpt['amt_bank']['last_refresh_epoch'] == 1
    # delete one image, add another: same count, every later sample moves by one
    images = train_images(data)
    os.remove(images[3])
    stem, ext = os.path.splitext(images[-1])
    shutil.copy(images[20], stem + '_added' + ext)
    assert len(train_images(data)) == len(images)

    probe = BankProbe(fresh=True)
    second = _resume(
        data, tmp_path / 'b', tmp_path / 'a' / 'epoch_1.pth', 2, probe, start_epoch=1, interval=1)
    log = capsys.readouterr().out  # the log (a second Runner in the same second shares it)
    assert 'belongs to other training data' in log
    assert 'same number of samples (40) but other images or another order' in log
    # the saved maps were not reused: the due refresh ran on the new data before epoch 2
    assert probe.seen['last'] == 1 and probe.seen['refreshes'] == 1 and probe.seen['active']
    assert torch.equal(probe.seen['maps'], probe.seen['fresh'])
    assert not torch.equal(probe.seen['maps'], ckpt['amt_bank']['maps'])
    assert refresh_hook(second).bank.data_id == dataset_identity(second.train_dataloader.dataset)


def test_count_change_also_recomputes_the_maps(synthetic_root, tmp_path, capsys):
    data = copy_data(synthetic_root, tmp_path / 'data')
    Runner.from_cfg(
        tiny_cfg(data, tmp_path / 'a', max_epochs=2, start_epoch=1, interval=1,
                 num_workers=0)).train()
    os.remove(train_images(data)[0])
    probe = BankProbe()
    _resume(
        data, tmp_path / 'b', tmp_path / 'a' / 'epoch_1.pth', 2, probe, start_epoch=1, interval=1)
    assert 'num_samples=40 but train_dataloader.dataset has 39 samples' in capsys.readouterr().out
    assert probe.seen['last'] == 1 and probe.seen['maps'].shape[0] == 39


def test_old_checkpoint_without_data_identity_is_accepted_with_a_warning(
        synthetic_root, tmp_path, capsys):
    Runner.from_cfg(
        tiny_cfg(
            synthetic_root, tmp_path / 'a', max_epochs=2, start_epoch=1, interval=1,
            num_workers=0)).train()
    ckpt = torch.load(tmp_path / 'a' / 'epoch_1.pth', map_location='cpu', weights_only=False)
    del ckpt['amt_bank']['data_id']
    old = tmp_path / 'old.pth'
    torch.save(ckpt, old)
    probe = BankProbe()
    _resume(synthetic_root, tmp_path / 'b', old, 2, probe, start_epoch=1, interval=1)
    assert 'records no data identity' in capsys.readouterr().out
    assert torch.equal(probe.seen['maps'], ckpt['amt_bank']['maps'])  # restored, not redone
    assert probe.seen['refreshes'] == 1


def test_moving_the_data_root_keeps_the_identity(synthetic_root, tmp_path):
    from mmpretrain.registry import DATASETS
    ids = []
    for root in (copy_data(synthetic_root,
                           tmp_path / 'x'), copy_data(synthetic_root, tmp_path / 'y' / 'z')):
        ids.append(
            dataset_identity(
                DATASETS.build(
                    dict(
                        type='CustomDataset',
                        data_root=str(root / 'imagenet'),
                        data_prefix='train',
                        with_label=False,
                        pipeline=[]))))
    assert ids[0] == ids[1]


def test_in_memory_dataset_identity_follows_the_pixels():
    import numpy as np
    from mmengine.dataset import BaseDataset

    class Arrays(BaseDataset):

        def __init__(self, arrays):
            self.arrays = arrays
            super().__init__(serialize_data=False)

        def load_data_list(self):
            return [dict(img=a, gt_label=0) for a in self.arrays]

    a = [np.full((4, 4, 3), i, np.uint8) for i in range(3)]
    same = dataset_identity(Arrays([x.copy() for x in a]))
    assert dataset_identity(Arrays(a)) == same
    assert dataset_identity(Arrays([a[0], a[2], a[1]])) != same


def test_extending_a_run_runs_the_refresh_it_skipped(synthetic_root, tmp_path):
    first = Runner.from_cfg(
        tiny_cfg(
            synthetic_root, tmp_path / 'a', max_epochs=3, start_epoch=1, interval=2, num_workers=0))
    first.train()
    bank = refresh_hook(first).bank
    # refresh after epoch 1; after epoch 3 none: it was the last epoch
    assert bank.last_refresh_epoch == 1 and bank.num_refreshes == 1
    probe = BankProbe(fresh=True)
    second = _resume(
        synthetic_root,
        tmp_path / 'b',
        tmp_path / 'a' / 'epoch_3.pth',
        4,
        probe,
        start_epoch=1,
        interval=2)
    # now epoch 3 is not the last: its refresh runs before epoch 4 trains
    assert probe.seen['last'] == 3 and probe.seen['refreshes'] == 2
    assert torch.equal(probe.seen['maps'], probe.seen['fresh'])
    assert not torch.equal(probe.seen['maps'], bank.maps)
    assert (tmp_path / 'b' / 'amt_bank' / 'epoch_3.pth').exists()
    assert second.epoch == 4
