"""Checkpoints: load them under torch's ``weights_only=True``, save them atomically, resume safely.

Loading (torch >= 2.6):

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means the
restricted unpickler, which refuses the numpy scalars and arrays in ``meta`` and the
``HistoryBuffer`` objects in ``message_hub`` that every Runner checkpoint holds, so resuming fails.
Instead of switching the restriction off (which would let a checkpoint run arbitrary code), we add
exactly those data types to torch's allow-list. Callables such as ``os.system`` stay refused.

Saving and resuming: :func:`setup_checkpoints` (called by ``tools/train.py``) makes the
``CheckpointHook`` write through :class:`AtomicLocalBackend` and points ``--resume`` at the newest
checkpoint that reads (see docs/reliability.md).
"""
import logging
import os
import os.path as osp
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

from .compat import history_buffer_statistics
from .io import atomic_write_bytes

_REGISTERED = False


def _numpy_globals() -> List[object]:
    """Numpy types that pickles of arrays, dtypes and scalars reference."""
    types: List[object] = [np.ndarray, np.dtype]
    # numpy 2 moved numpy.core to numpy._core; pickles name whichever wrote them.
    for mod_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)
                mod = __import__(mod_name, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        for name in ('_reconstruct', 'scalar'):
            fn = getattr(mod, name, None)
            if fn is not None:
                types.append((fn, f'{mod_name}.{name}'))
    # The dtype classes (numpy >= 1.25 pickles dtypes through them).
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        for name in dir(dtypes_mod):
            obj = getattr(dtypes_mod, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                types.append(obj)
    # Scalar types, e.g. np.float64, np.int64, np.bool_.
    for name in ('float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8',
                 'uint16', 'uint32', 'uint64', 'bool_'):
        types.append(getattr(np, name))
    return types


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """A ``getattr`` that only fetches ``HistoryBuffer``'s own statistics methods.

    ``HistoryBuffer`` pickles its ``statistics_methods`` as ``getattr(HistoryBuffer, 'mean')``
    and so on. The real ``getattr`` cannot be allowed (a chain of them reaches ``os.system``), so
    this stands in for it under the name ``builtins.getattr`` and refuses anything else.
    """
    from mmengine.logging import HistoryBuffer

    # The registry fills when the first buffer is built; a fresh process may load first.
    own_method = not name.startswith('_') and callable(vars(HistoryBuffer).get(name))
    if obj is HistoryBuffer and (name in history_buffer_statistics() or own_method):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}); '
        'only HistoryBuffer statistics methods are allowed')


def _mmengine_globals() -> List[object]:
    """mmengine data classes that a Runner checkpoint's ``message_hub`` pickles."""
    from mmengine.logging import HistoryBuffer
    return [
        HistoryBuffer, (history_buffer_getattr, 'builtins.getattr'),
        (history_buffer_getattr, '__builtin__.getattr')
    ]


def safe_checkpoint_globals() -> List[object]:
    """Return the allow-list: data-only types found in OpenMMLab Runner checkpoints."""
    return _numpy_globals() + _mmengine_globals()


def register_safe_globals() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine Runner checkpoints.

    Idempotent. Called by ``import mmamt``. On torch < 2.4 (no allow-list API) it does nothing,
    as those versions load with the full unpickler anyway.
    """
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(safe_checkpoint_globals())
    _REGISTERED = True


# -- saving atomically and resuming from a checkpoint that reads ----------------------------------
ATOMIC_BACKEND = 'mmamt_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` and ``put_text``.

    mmengine writes a checkpoint with ``open(path, 'wb').write(...)``: a kill during "Saving
    checkpoint" leaves a truncated ``epoch_N.pth``. This backend writes through
    :func:`mmamt.utils.atomic_write` instead (temporary file in the same folder, fsync, rename),
    so a checkpoint file is either complete or absent. Everything else (reads, removal of old
    checkpoints) is ``LocalBackend``'s. Registered under the name ``'mmamt_atomic_local'``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, str(filepath))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), str(filepath))


# A name of mmamt's own, registered once: nothing of mmengine's is replaced (force=False).
register_backend(ATOMIC_BACKEND, AtomicLocalBackend)


def use_atomic_checkpoints(cfg: Config) -> Config:
    """Make the config's ``CheckpointHook`` save through :class:`AtomicLocalBackend`.

    Leaves the hook alone when it is not a ``CheckpointHook`` (or subclass named so), writes
    elsewhere than a local folder (``out_dir`` with a ``scheme://``) or already has
    ``backend_args`` / ``file_client_args``.

    Args:
        cfg (Config): A Runner config; changed in place.

    Returns:
        Config: ``cfg``.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if (not hook or not str(hook.get('type', 'CheckpointHook')).endswith('CheckpointHook')
            or hook.get('backend_args') is not None or hook.get('file_client_args')):
        return cfg
    out_dir = hook.get('out_dir')
    if out_dir is not None and '://' in str(out_dir):
        return cfg
    hook['backend_args'] = dict(backend=ATOMIC_BACKEND)
    return cfg


def checkpoint_error(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or None when it reads.

    A torch zip checkpoint is checked without unpickling: the zip directory must be there (a
    truncated file has none) and every member must pass its CRC. Other files are loaded.

    Args:
        path (str): A checkpoint file.

    Returns:
        str | None: The reason, e.g. ``'truncated or not a zip file (File is not a zip file)'``.
    """
    if not path or not osp.isfile(path):
        return 'no such file'
    with open(path, 'rb') as f:
        zip_magic = f.read(4) == b'PK\x03\x04'
    if not zip_magic and osp.getsize(path) > 0:
        try:  # torch's legacy (non-zip) format
            torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # noqa: BLE001  (any failure means: cannot resume from it)
            return f'cannot be loaded ({type(e).__name__}: {e})'
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                return f'corrupt (member {bad} fails its CRC check)'
            if not any(n.endswith('data.pkl') for n in zf.namelist()):
                return 'not a torch checkpoint (no data.pkl)'
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return f'truncated or not a zip file ({e})'
    return None


def _checkpoints_newest_first(folder: str) -> List[str]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``folder``, highest N (then newest file) first."""
    found = []
    for name in os.listdir(folder) if osp.isdir(folder) else []:
        match = re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', name)
        if match:
            path = osp.join(folder, name)
            found.append((int(match.group(1)), osp.getmtime(path), path))
    return [p for _, _, p in sorted(found, reverse=True)]


def resolve_resume(cfg: Config) -> Config:
    """Point an auto-resume (``resume=True``, no ``load_from``) at a checkpoint that reads.

    mmengine resumes from the file named in ``work_dir/last_checkpoint``. When that file is
    missing, truncated or corrupt (a kill during a non-atomic save, a lost page cache, a
    half-written ``last_checkpoint``), this picks the newest readable ``epoch_N.pth`` /
    ``iter_N.pth`` of the same folder instead and warns with the name of the bad file. An
    explicit ``load_from`` that does not read is refused (``ValueError`` naming it and the newest
    readable alternative): a file the user chose is not replaced silently.

    Args:
        cfg (Config): A Runner config with ``work_dir``; changed in place.

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: If the explicit checkpoint does not read, or checkpoints exist but none
            reads.
    """
    if not cfg.get('resume'):
        return cfg
    explicit = cfg.get('load_from')
    if explicit is not None:
        if '://' in str(explicit):
            return cfg
        reason = checkpoint_error(explicit)
        if reason is not None:
            folder = osp.dirname(osp.abspath(explicit))
            alternative = next(
                (p for p in _checkpoints_newest_first(folder) if checkpoint_error(p) is None), None)
            hint = (f'; the newest readable checkpoint there is {alternative}'
                    if alternative else '')
            raise ValueError(f'cannot resume from {explicit}: {reason}{hint}')
        return cfg
    work_dir = cfg.get('work_dir')
    if work_dir is None:
        return cfg
    latest = None
    save_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(save_file):
        with open(save_file) as f:
            latest = f.read().strip()
    candidates = ([latest] if latest else []) + [
        p for p in _checkpoints_newest_first(work_dir)
        if not latest or osp.abspath(p) != osp.abspath(latest)
    ]
    if not candidates:
        return cfg  # nothing saved yet: mmengine starts from scratch
    bad = []
    for path in candidates:
        reason = checkpoint_error(path)
        if reason is None:
            if bad:
                print_log(
                    'resume: skipped ' + '; '.join(f'{p} ({r})'
                                                   for p, r in bad) + f'; resuming from {path}',
                    logger='current',
                    level=logging.WARNING)
            cfg.load_from = path
            return cfg
        bad.append((path, reason))
    raise ValueError('cannot resume: no checkpoint in ' + str(work_dir) + ' reads (' +
                     '; '.join(f'{p}: {r}' for p, r in bad) + '); remove them or start a new '
                     'run without --resume')


def setup_checkpoints(cfg: Config) -> Config:
    """What ``tools/train.py`` applies: atomic checkpoint saving and a resume that reads."""
    return resolve_resume(use_atomic_checkpoints(cfg))
