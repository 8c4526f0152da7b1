import multiprocessing as mp
import os

import numpy as np
import pytest
import torch

from mmamt.datasets import AttentionBank, LoadAttentionMap


def test_one_byte_per_patch_and_quantisation():
    bank = AttentionBank(10, (4, 5))
    assert bank.maps.dtype == torch.uint8 and bank.maps.numel() == 10 * 20
    assert bank.maps.element_size() == 1
    maps = torch.rand(3, 4, 5)
    bank.update(torch.tensor([7, 0, 3]), maps)
    assert np.abs(bank.get(0) - maps[1].numpy()).max() <= 0.5 / 255 + 1e-6
    assert not bank.active and bank.last_refresh_epoch == -1
    bank.mark_refreshed(40)
    assert bank.active and bank.last_refresh_epoch == 40 and bank.num_refreshes == 1


def _child(bank, ready, go, out):
    loader = LoadAttentionMap()
    loader.attach(bank)
    ready.set()
    go.wait(10)
    res = loader(dict(sample_idx=2))
    out.put((float(res['attn_map'].mean()), res['amt_active']))


@pytest.mark.parametrize('method', ['fork', 'spawn'])
def test_workers_see_updates_made_after_they_started(method):
    """The bank is shared memory: no copy per worker, and later refreshes reach live workers."""
    ctx = mp.get_context(method)
    bank = AttentionBank(4, (2, 2))
    assert bank.maps.is_shared() and bank.state.is_shared()
    ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_child, args=(bank, ready, go, out))
    proc.start()
    assert ready.wait(60)
    bank.update(torch.tensor([2]), torch.zeros(1, 2, 2))  # written after the worker started
    bank.mark_refreshed(1)
    go.set()
    mean, active = out.get(timeout=60)
    proc.join(30)
    assert mean == 0.0 and active is True


def test_save_is_atomic_and_round_trips(tmp_path, monkeypatch):
    bank = AttentionBank(5, (3, 3))
    bank.update(torch.arange(5), torch.rand(5, 3, 3))
    bank.mark_refreshed(2)
    path = tmp_path / 'bank.pth'
    bank.save(str(path))
    loaded = AttentionBank.from_file(str(path))
    assert torch.equal(loaded.maps, bank.maps) and loaded.active

    before = path.read_bytes()
    bank.update(torch.arange(5), torch.zeros(5, 3, 3))

    def broken_save(obj, f, *args, **kwargs):
        f.write(b'half')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        bank.save(str(path))
    assert path.read_bytes() == before  # the old file is intact
    assert os.listdir(tmp_path) == ['bank.pth']  # no temp file left behind


def test_load_refuses_another_dataset_or_grid():
    bank = AttentionBank(5, (3, 3))
    other = AttentionBank(6, (3, 3))
    with pytest.raises(ValueError, match='num_samples=6'):
        bank.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match='grid'):
        bank.load_state_dict(AttentionBank(5, (4, 4)).state_dict())
    with pytest.raises(ValueError, match='num_samples'):
        AttentionBank(0, (3, 3))


def test_statistics_uniform_vs_peaked():
    bank = AttentionBank(2, (4, 4))
    peaked = torch.zeros(1, 4, 4)
    peaked[0, 0, 0] = 1
    bank.update(torch.tensor([1]), peaked)
    assert bank.statistics([0])['entropy'] == pytest.approx(1.0, abs=1e-3)
    assert bank.statistics([1])['entropy'] < 0.2
