"""No host-device synchronisation in the forward and loss of MAE-AMT and SimMIM-AMT.

A ``TorchDispatchMode`` counts the ops that make the host wait for the device (they read a
value back: ``.item()``, ``bool()``/``int()`` of a tensor, ``nonzero``, boolean indexing, ...)
while a real Runner trains with AMT active (after an attention refresh). On a CPU nothing
actually waits, but the same ops would stall a GPU step, so counting them here proves the GPU
step sync-free. Device-to-host copies (``.cpu()``, ``.tolist()`` of device data) are not visible
on a CPU-only run; the model makes none (reviewed), and the counter's list covers the rest.
"""
import pytest
import torch
from mmengine.runner import Runner
from torch.utils._python_dispatch import TorchDispatchMode

import mmamt  # noqa: F401
from mmamt.testing.tiny_teacher import write_tiny_clip
from tests.test_engine._amt_runner import tiny_cfg

# Ops whose result size or value needs device data on the host.
SYNC_OPS = {
    'aten._local_scalar_dense',
    'aten.item',
    'aten.is_nonzero',
    'aten.equal',
    'aten.nonzero',
    'aten.masked_select',
    'aten._unique2',
    'aten.unique_dim',
    'aten.unique_consecutive',
    'aten.repeat_interleave',
    'aten.bincount',
    'aten.histc',
    'aten.allclose',
    'aten.tolist',
}


class SyncCounter(TorchDispatchMode):
    """Counts sync-forcing ops, including indexing with a boolean mask (a hidden nonzero)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket._qualified_op_name.replace('::', '.')
        if name in SYNC_OPS:
            self.ops.append(name)
        elif name in ('aten.index', 'aten.index_put', 'aten.index_put_'):
            indices = args[1] if len(args) > 1 else []
            if any(
                    isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
                    for i in indices):
                self.ops.append(f'{name}(bool mask)')
        return func(*args, **(kwargs or {}))


def count_model_syncs(model):
    """Wrap ``model.forward`` so that every call records ``(thrown patches, sync ops)``."""
    calls = []
    forward = model.forward

    def counted(*args, **kwargs):
        with SyncCounter() as counter:
            out = forward(*args, **kwargs)
        split = kwargs.get('token_split')
        calls.append((None if split is None else split.thrown.shape[1], counter.ops))
        return out

    model.forward = counted
    return calls


def train_counting(synthetic_root, work_dir, algo, inject=None):
    teacher = write_tiny_clip(str(work_dir / 'clip.pth'), 32, 8, embed_dim=16)
    cfg = tiny_cfg(
        synthetic_root,
        work_dir,
        max_epochs=2,
        start_epoch=1,
        interval=1,
        num_workers=0,
        algo=algo,
        teacher=teacher)
    cfg.model.data_preprocessor.type = 'AMTDataPreprocessor'
    cfg.default_hooks.checkpoint.interval = 10  # no checkpoint needed
    runner = Runner.from_cfg(cfg)
    if inject is not None:
        inject(runner.model)
    calls = count_model_syncs(runner.model)
    runner.train()
    return calls


@pytest.mark.parametrize('algo', ['mae', 'simmim', 'mff', 'maskfeat', 'eva'])
def test_training_forward_never_syncs(synthetic_root, tmp_path, algo):
    calls = train_counting(synthetic_root, tmp_path, algo)
    thrown = [n for n, _ in calls]
    assert None not in thrown  # every step got its split from AMTDataPreprocessor
    assert thrown[0] == 0 and thrown[-1] > 0  # random masking first, AMT after the refresh
    assert [ops for _, ops in calls] == [[]] * len(calls)


def test_counter_catches_an_added_item(synthetic_root, tmp_path):
    """The test above can fail: a ``.item()`` (or ``bool()``) in the neck is counted."""

    def inject(model):
        neck_forward = model.neck.forward

        def with_item(x, split):
            if x.mean().item() > 1e9 or bool((x > 1e9).any()):
                raise AssertionError('unreachable')
            return neck_forward(x, split)

        model.neck.forward = with_item

    calls = train_counting(synthetic_root, tmp_path, 'mae', inject)
    # .item() and bool() both read a device value: two per forward
    assert calls and all(ops == ['aten._local_scalar_dense'] * 2 for _, ops in calls)


def test_counter_catches_boolean_indexing():
    x = torch.randn(4, 3)
    with SyncCounter() as counter:
        x[x[:, 0] > 0]
        torch.nonzero(x)
    assert counter.ops == ['aten.index(bool mask)', 'aten.nonzero']
