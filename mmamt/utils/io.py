"""Atomic writes, and reading torch files with errors that say what is wrong.

Every write goes to a temporary file beside the target, named ``.NAME.<pid>-<hex>.tmp``, which
is flushed, fsynced and then renamed over the target (``os.replace``, atomic on POSIX and
Windows), and the folder is fsynced so the rename itself survives a power loss. The temporary is
created like ``open(path, 'wb')`` creates a file (mode ``0o666`` minus the umask, or the mode of
the file it replaces). A writer killed half-way leaves only its temporary; the next write into
the same folder, of any target, removes the temporaries whose writer process is gone (a run
killed while saving ``epoch_3.pth`` never saves that name again, only ``epoch_4.pth``).

:func:`load_torch_file` reads with torch's safe unpickler and turns each of torch's failures
into an :class:`UnreadableFileError` naming the file, what it should be and what to do.
"""
import os
import os.path as osp
import re
import secrets
import stat
from typing import Any, BinaryIO, Callable, List, Optional, Tuple

import torch

# Temporaries by writer: this module's (``.NAME.<pid>-<hex>.tmp``) and, from earlier mmamt
# versions, ``tempfile.mkstemp``'s (``.NAME.XXXXXXXX.tmp``, no process id: always stale).
_TEMPORARY = re.compile(r'\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp')
_MKSTEMP_TEMPORARY = re.compile(r'\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp')


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, PermissionError, OSError):
        return True  # owned by someone else, or not a pid we can ask about: keep its file
    return True


def _stale_target(entry: str) -> Optional[str]:
    """The target name ``entry`` is a stale temporary of, or None if it is not one."""
    match = _TEMPORARY.fullmatch(entry)
    if match is not None:
        return None if pid_alive(int(match['pid'])) else match['name']
    match = _MKSTEMP_TEMPORARY.fullmatch(entry)
    return None if match is None else match['name']


def clean_stale_temporaries_in(directory: str, name: Optional[str] = None) -> List[str]:
    """Remove the temporaries in ``directory`` left by writers that were killed.

    A temporary counts as stale when the process id in its name is not running on this host,
    or when it has the name ``tempfile.mkstemp`` gave (``.NAME.XXXXXXXX.tmp``, written by
    earlier mmamt versions, which recorded no process id). Other files, folders and links are
    never touched; a temporary that cannot be removed is left (cleaning is best effort).

    Args:
        directory (str): The folder to clean.
        name (str, optional): Only the temporaries of this target file name; default: those of
            every target. Defaults to None.

    Returns:
        list[str]: The paths removed.
    """
    removed = []
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except FileNotFoundError:
        return removed
    for entry in entries:
        target = _stale_target(entry.name)
        if target is None or name not in (None, target):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.remove(entry.path)
                removed.append(entry.path)
        except OSError:  # gone meanwhile, or not ours to remove (sticky folder)
            pass
    return removed


def clean_stale_temporaries(path: str) -> List[str]:
    """Remove the temporaries of ``path`` left by writers that were killed.

    Args:
        path (str): The target file whose temporaries to remove (see
            :func:`clean_stale_temporaries_in` for what counts as stale).

    Returns:
        list[str]: The paths removed.
    """
    directory, name = osp.split(osp.abspath(path))
    return clean_stale_temporaries_in(directory, name)


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
    clean_stale_temporaries_in(directory)
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


# What is wrong with a file torch cannot load (a phrase of the message), and what to do.
_LOAD_PROBLEMS = {
    'missing': ('does not exist', 'check the path'),
    'unreadable': ('cannot be opened', 'check the path and its permissions'),
    'corrupt': ('is truncated or corrupt',
                'it was cut short or damaged while being written or copied: write or copy it '
                'again'),
    'refused': ('is refused by the safe unpickler',
                'it holds objects that are not tensors or plain values, so it is another kind '
                'of file: check the path'),
    'not a torch file': ('is not a torch file', 'check the path'),
}
_REFUSED_GLOBAL = re.compile(r'Unsupported global: GLOBAL (\S+)')


def torch_load_problem(err: BaseException) -> Tuple[str, str]:
    """Condense an exception of ``torch.load`` into what is wrong, in a phrase.

    torch's messages span many lines and advise turning the safe unpickler off; this keeps the
    one line that says why, and never that advice.

    Args:
        err (BaseException): What ``torch.load`` raised.

    Returns:
        Tuple[str, str]: The problem (a key of ``_LOAD_PROBLEMS``: ``'missing'``,
        ``'unreadable'``, ``'corrupt'``, ``'refused'`` or ``'not a torch file'``) and its
        description, e.g. ``'is truncated or corrupt (PytorchStreamReader failed ...)'``.
    """
    text = str(err)
    refused = _REFUSED_GLOBAL.search(text)
    if isinstance(err, FileNotFoundError):
        problem = 'missing'
    elif isinstance(err, OSError):
        problem = 'unreadable'
    elif refused is not None:
        problem = 'refused'
    elif isinstance(err, EOFError) or 'PytorchStreamReader' in text or 'corrupt' in text:
        problem = 'corrupt'  # a zip cut short, an empty file, damaged bytes
    else:
        problem = 'not a torch file'
    if isinstance(err, OSError):
        detail = '' if problem == 'missing' else err.strerror or ''  # the path is named anyway
    elif refused is not None:
        detail = f'it references {refused.group(1)}'
    else:
        # torch's lines about `weights_only` (its advice) and the WeightsUnpickler say nothing
        # about the file; the first other line does (e.g. 'Unsupported operand 110').
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        detail = next((
            ln for ln in lines
            if 'weights_only' not in ln.replace(' ', '_').lower() and 'WeightsUnpickler' not in ln),
                      '')
        detail = re.sub(r'\. This is an internal miniz error.*', '', detail)[:200]
    phrase = _LOAD_PROBLEMS[problem][0]
    return problem, f'{phrase} ({detail})' if detail else phrase


class UnreadableFileError(ValueError):
    """A file :func:`load_torch_file` cannot read; the message names it, the problem and what
    to do, in one line.

    Args:
        path (str): The file.
        what (str): What it should be, e.g. ``'an AMT attention bank written by
            AttentionRefreshHook'``.
        err (BaseException): What ``torch.load`` raised.

    Attributes:
        path (str): The file.
        problem (str): What is wrong (see :func:`torch_load_problem`).
    """

    def __init__(self, path: str, what: str, err: BaseException) -> None:
        self.path = path
        self.problem, description = torch_load_problem(err)
        super().__init__(f'{path} {description}; expected {what}; '
                         f'{_LOAD_PROBLEMS[self.problem][1]}')


def load_torch_file(path: str, what: str) -> Any:
    """``torch.load`` a file of tensors and plain values onto the CPU, with the safe unpickler.

    Args:
        path (str): The file.
        what (str): What it should be, for the message of a failure, e.g. ``'an AMT attention
            bank written by AttentionRefreshHook'``.

    Returns:
        Any: The loaded object.

    Raises:
        UnreadableFileError: If the file is missing, truncated or corrupt, not a torch file, or
            holds objects the safe unpickler refuses.
    """
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises several types for bytes it cannot read
        raise UnreadableFileError(path, what, err) from err
