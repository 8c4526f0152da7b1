"""Atomic writes: a reader never sees a half-written file, a failed write leaves the old one.

Every write goes to a temporary file beside the target, named ``.NAME.<pid>-<hex>.tmp``, which
is flushed, fsynced and then renamed over the target (``os.replace``, atomic on POSIX and
Windows), and the folder is fsynced so the rename itself survives a power loss. The temporary is
created like ``open(path, 'wb')`` creates a file (mode ``0o666`` minus the umask, or the mode of
the file it replaces). A writer killed half-way leaves only its temporary; the next write of the
same target removes the temporaries whose writer process is gone.
"""
import os
import os.path as osp
import re
import secrets
import stat
from typing import BinaryIO, Callable, List

import torch


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or we cannot tell: keep its file)
    return True


def clean_stale_temporaries(path: str) -> List[str]:
    """Remove the temporaries of ``path`` left by writers that were killed.

    A temporary counts as stale when the process id in its name is not running on this host,
    or when it has the name ``tempfile.mkstemp`` gave (``.NAME.XXXXXXXX.tmp``, written by
    earlier mmamt versions, which recorded no process id).

    Args:
        path (str): The target file whose temporaries to remove.

    Returns:
        list[str]: The paths removed.
    """
    directory, name = osp.split(osp.abspath(path))
    ours = re.compile(r'\.' + re.escape(name) + r'\.(\d+)-[0-9a-f]{8}\.tmp')
    mkstemp = re.compile(r'\.' + re.escape(name) + r'\.[a-z0-9_]{8}\.tmp')
    removed = []
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = ours.fullmatch(entry)
        stale = (match is not None and not _pid_alive(int(match.group(1)))
                 or mkstemp.fullmatch(entry) is not None)
        if stale:
            try:
                os.remove(osp.join(directory, entry))
                removed.append(osp.join(directory, entry))
            except FileNotFoundError:
                pass
    return removed


def _fsync_dir(directory: str) -> None:
    """Persist a rename in ``directory`` (not possible on every platform: best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` atomically: ``write(f)`` fills a temporary beside it, which replaces it.

    Args:
        path (str): The target file. Its folder is created if missing.
        write (Callable[[BinaryIO], None]): Writes the content into the binary file it gets.
    """
    path = osp.abspath(path)
    directory, name = osp.split(path)
    os.makedirs(directory, exist_ok=True)
    clean_stale_temporaries(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    while True:
        tmp = osp.join(directory, f'.{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp')
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for open(path, 'wb')
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:  # rewriting a file keeps its mode, as open(path, 'wb') would
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(data))


def atomic_torch_save(obj: object, path: str) -> None:
    """``torch.save`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))
