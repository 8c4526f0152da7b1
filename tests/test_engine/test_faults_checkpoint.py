"""A kill while saving leaves no broken checkpoint, and --resume finds one
that reads. Real ``tools/train.py`` processes, as a user meets it."""
import os
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner

from mmamt.utils import checkpoint_error
from ._amt_runner import tiny_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN = osp.join(ROOT, 'tools', 'train.py')


def _config_file(synthetic_root, tmp_path, max_epochs=2):
    cfg = tiny_cfg(
        synthetic_root,
        tmp_path / 'unused',
        max_epochs=max_epochs,
        start_epoch=1,
        interval=1,
        num_workers=0)
    cfg.custom_imports = dict(
        imports=['mmamt', 'tests.test_engine._fault_hooks'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='KillDuringSaveHook'))
    cfg.log_level = 'INFO'
    path = tmp_path / 'cfg.py'
    cfg.dump(str(path))
    return str(path)


def _train(cfg_file, work_dir, *extra, env=None, max_epochs=2):
    env = dict(os.environ, **(env or {}))
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    cmd = [
        sys.executable, TRAIN, cfg_file, '--work-dir',
        str(work_dir), *extra, '--cfg-options', f'train_cfg.max_epochs={max_epochs}'
    ]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_kill_during_checkpoint_save_leaves_only_readable_checkpoints(synthetic_root, tmp_path):
    cfg_file = _config_file(synthetic_root, tmp_path)
    work = tmp_path / 'work'
    proc = _train(cfg_file, work, env={'MMAMT_TEST_KILL_SAVE_EPOCH': '2'})
    assert 'KILL POINT' in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr[-3000:]
    # every checkpoint file there is complete: the epoch-2 one was never renamed into place
    ckpts = sorted(p for p in os.listdir(work) if p.endswith('.pth'))
    assert ckpts == ['epoch_1.pth']
    assert checkpoint_error(str(work / 'epoch_1.pth')) is None
    temps = [p for p in os.listdir(work) if p.startswith('.epoch_2.pth.')]
    assert len(temps) == 1
    # resuming goes on from epoch 1, saves epoch 2 again and cleans the dead writer's temporary
    proc = _train(cfg_file, work, '--resume', max_epochs=3)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not [p for p in os.listdir(work) if p.endswith('.tmp')]
    for e in (2, 3):
        assert checkpoint_error(str(work / f'epoch_{e}.pth')) is None
    assert torch.load(work / 'epoch_3.pth', map_location='cpu')['meta']['epoch'] == 3


def test_resume_skips_a_truncated_checkpoint_with_a_warning(synthetic_root, tmp_path):
    cfg_file = _config_file(synthetic_root, tmp_path)
    work = tmp_path / 'work'
    cfg = tiny_cfg(synthetic_root, work, max_epochs=2, start_epoch=1, interval=1, num_workers=0)
    Runner.from_cfg(cfg).train()
    bad = work / 'epoch_2.pth'
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])  # what a kill during a non-atomic save leaves
    with open(work / 'last_checkpoint') as f:
        assert f.read().strip() == str(bad)
    assert 'truncated' in checkpoint_error(str(bad))
    # an explicit checkpoint that does not read is refused, naming it and the way out
    proc = _train(cfg_file, work, '--resume', str(bad), max_epochs=3)
    assert proc.returncode != 0
    assert f'cannot resume from {bad}' in proc.stderr
    assert f'newest readable checkpoint there is {work / "epoch_1.pth"}' in proc.stderr
    # --resume alone falls back to the newest checkpoint that reads, with a warning
    proc = _train(cfg_file, work, '--resume', max_epochs=3)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert f'skipped {bad} (truncated' in out
    assert f'resuming from {work / "epoch_1.pth"}' in out
    assert 'resumed epoch: 1' in out
    assert torch.load(work / 'epoch_3.pth', map_location='cpu')['meta']['epoch'] == 3


def test_checkpoint_error_on_corrupt_member(tmp_path):
    path = tmp_path / 'c.pth'
    torch.save({'w': torch.arange(1000.)}, path)
    assert checkpoint_error(str(path)) is None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte inside the tensor data
    path.write_bytes(bytes(data))
    assert checkpoint_error(str(path)) is not None
    assert checkpoint_error(str(tmp_path / 'missing.pth')) == 'no such file'
    empty = tmp_path / 'e.pth'
    empty.write_bytes(b'')
    assert 'truncated' in checkpoint_error(str(empty))


@pytest.mark.parametrize('hook_cfg,expected', [
    (dict(type='CheckpointHook', interval=1), dict(backend='mmamt_atomic_local')),
    (dict(type='CheckpointHook', out_dir='s3://bucket/x'), None),
    (dict(type='CheckpointHook', backend_args=dict(backend='local')), dict(backend='local')),
    (dict(type='SomeOtherHook'), None),
])
def test_use_atomic_checkpoints(hook_cfg, expected):
    from mmengine.config import Config

    from mmamt.utils import use_atomic_checkpoints
    cfg = use_atomic_checkpoints(Config(dict(default_hooks=dict(checkpoint=hook_cfg))))
    assert cfg.default_hooks.checkpoint.get('backend_args') == expected


def test_resolve_resume_without_a_process(tmp_path, capsys):
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from mmamt.utils import resolve_resume

    # the warnings go to the current logger: make one that writes to this test's stdout
    MMLogger.get_instance(f'resolve_resume_{tmp_path.name}', log_level='INFO')

    def cfg(load_from=None):
        return Config(dict(work_dir=str(tmp_path), resume=True, load_from=load_from))

    assert resolve_resume(cfg()).load_from is None  # nothing saved yet: start from scratch
    for e in (1, 2, 3):
        torch.save({'meta': dict(epoch=e)}, tmp_path / f'epoch_{e}.pth')
    (tmp_path / 'epoch_3.pth').write_bytes((tmp_path / 'epoch_3.pth').read_bytes()[:100])
    # a half-written last_checkpoint (mmengine writes it in place) names no file
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epo'))
    assert resolve_resume(cfg()).load_from == str(tmp_path / 'epoch_2.pth')
    out = capsys.readouterr().out
    assert f'{tmp_path / "epo"} (no such file)' in out and f'{tmp_path / "epoch_3.pth"}' in out
    # a readable last_checkpoint is used as it is, even when not the newest file
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert resolve_resume(cfg()).load_from == str(tmp_path / 'epoch_1.pth')
    # checkpoints there but none reads: stop instead of starting over
    for e in (1, 2):
        (tmp_path / f'epoch_{e}.pth').write_bytes(b'')
    with pytest.raises(ValueError, match='cannot resume: no checkpoint in .* reads'):
        resolve_resume(cfg())
    assert resolve_resume(Config(dict(work_dir=str(tmp_path)))).get('load_from') is None
