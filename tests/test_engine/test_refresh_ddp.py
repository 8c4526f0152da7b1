"""A real 2-process DDP run on CPU (gloo, tools/dist_train.sh): identical banks on both ranks."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from ._amt_runner import tiny_cfg

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_rank_refresh_gives_identical_full_banks(synthetic_root, tmp_path):
    cfg = tiny_cfg(
        synthetic_root,
        tmp_path / 'work',
        max_epochs=2,
        start_epoch=1,
        interval=1,
        num_workers=0,
        batch_size=4)
    cfg.custom_imports = dict(
        imports=['mmamt', 'tests.test_engine._ddp_probe'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='DumpBankProbe'))
    cfg_path = tmp_path / 'ddp_cfg.py'
    cfg.dump(str(cfg_path))
    env = dict(
        os.environ,
        PORT=str(_free_port()),
        PYTHON=sys.executable,
        PYTHONPATH=f'{ROOT}:{os.environ.get("PYTHONPATH", "")}',
        OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', str(ROOT / 'tools' / 'dist_train.sh'),
         str(cfg_path), '2'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = tmp_path / 'work'
    ranks = [torch.load(work / f'bank_rank{r}.pth', map_location='cpu') for r in range(2)]
    n = len(list((synthetic_root / 'imagenet' / 'train').rglob('*.png')))
    for r in ranks:
        assert r['world'] == 2
        assert r['refreshes'] == 1 and r['active']
        assert r['writes'] == n  # each sample written exactly once (no sampler padding)
        assert r['maps'].shape[0] == n
        assert (r['maps'] != 255).any()  # really refreshed, not the uniform start
    assert torch.equal(ranks[0]['maps'], ranks[1]['maps'])
