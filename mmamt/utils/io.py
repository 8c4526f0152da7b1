"""Atomic writes: a reader never sees a half-written file, a failed write leaves the old one."""
import os
import os.path as osp
import tempfile

import torch


def atomic_torch_save(obj: object, path: str) -> None:
    """``torch.save`` to a temporary file beside ``path``, fsync, then ``os.replace`` it."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', suffix='.tmp',
                               dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
