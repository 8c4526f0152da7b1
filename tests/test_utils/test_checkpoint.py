"""Runner checkpoints resume on torch >= 2.6 after ``import mmamt``; hostile pickles are refused."""
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmamt  # noqa: F401


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out.squeeze(-1) - labels)**2).mean())
        return out


class ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)), labels=torch.tensor(float(i % 2)))


def make_runner(work_dir, max_epochs, resume=False, load_from=None):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler'),
            batch_size=4,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        experiment_name=f'toy_{max_epochs}_{resume}',
        default_scope='mmengine')


def test_runner_checkpoint_resumes(tmp_path):
    runner = make_runner(tmp_path, max_epochs=2)
    runner.train()
    # numpy values in meta, as dataset/evaluator code often leaves there
    runner.save_checkpoint(
        str(tmp_path),
        'extra.pth',
        meta=dict(best=np.float64(0.5), hist=np.arange(3), n=np.int64(4)))
    ckpt_path = tmp_path / 'epoch_2.pth'
    raw = torch.load(ckpt_path, map_location='cpu')  # weights_only=True, the torch default
    assert 'message_hub' in raw and raw['meta']['epoch'] == 2
    extra = torch.load(tmp_path / 'extra.pth', map_location='cpu')
    assert extra['meta']['best'] == 0.5 and extra['meta']['hist'].tolist() == [0, 1, 2]

    resumed = make_runner(tmp_path / 'resumed', max_epochs=3, resume=True, load_from=str(ckpt_path))
    resumed.train()
    assert resumed.epoch == 3
    assert resumed.iter == 3 * 2
    w_before = raw['state_dict']['linear.weight']
    assert not torch.equal(resumed.model.linear.weight.detach(), w_before)  # it trained on


def test_hostile_pickle_is_refused(tmp_path):
    marker = tmp_path / 'pwned'

    class Payload:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': {'x': Payload()}}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu')
    with pytest.raises(pickle.UnpicklingError):
        make_runner(tmp_path / 'r', max_epochs=1, resume=True, load_from=str(path)).train()
    assert not marker.exists()


def test_getattr_is_allowed_only_for_history_buffer_methods(tmp_path):
    from mmengine.logging import HistoryBuffer

    class Sneaky:

        def __reduce__(self):
            # getattr(HistoryBuffer, '__init__') would open the door to module globals
            return (getattr, (HistoryBuffer, '__init__'))

    path = tmp_path / 'sneaky.pth'
    torch.save({'meta': Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer statistics'):
        torch.load(path, map_location='cpu')
    # the legitimate use still loads
    buf = HistoryBuffer()
    buf.update(1.0)
    torch.save({'buf': buf}, tmp_path / 'ok.pth')
    assert torch.load(tmp_path / 'ok.pth', map_location='cpu')['buf'].mean() == 1.0
