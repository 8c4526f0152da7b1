"""Atomic files honour the umask, and a killed write leaves nothing forever.

Unreadable torch files are refused with a message that names the file and what to do.
"""
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
import torch

from mmamt.datasets import AttentionBank
from mmamt.utils import (UnreadableFileError, atomic_torch_save, clean_stale_temporaries,
                         load_torch_file)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize('umask,expected', [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_mode_follows_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        atomic_torch_save({'a': torch.ones(2)}, str(tmp_path / 'bank.pth'))
        with open(tmp_path / 'plain.pth', 'wb'):
            pass
    finally:
        os.umask(old)
    assert _mode(tmp_path / 'bank.pth') == expected == _mode(tmp_path / 'plain.pth')


def test_rewriting_keeps_the_mode_of_the_file(tmp_path):
    path = tmp_path / 'bank.pth'
    atomic_torch_save({'a': 1}, str(path))
    os.chmod(path, 0o640)
    atomic_torch_save({'a': 2}, str(path))
    assert _mode(path) == 0o640
    assert torch.load(path)['a'] == 2


KILLED_WRITER = textwrap.dedent('''
    import sys, time
    from mmamt.utils import atomic_torch_save

    class Slow:
        def __reduce__(self):  # called while torch.save writes the temporary file
            print('WRITING', flush=True)
            time.sleep(600)

    atomic_torch_save({'maps': Slow()}, sys.argv[1])
''')


def test_killed_write_keeps_the_old_file_and_next_write_cleans_its_temporary(tmp_path):
    path = tmp_path / 'epoch_3.pth'
    atomic_torch_save({'version': 1}, str(path))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen(
        [sys.executable, '-c', KILLED_WRITER, str(path)],
        env=env,
        stdout=subprocess.PIPE,
        text=True)
    try:
        assert proc.stdout.readline().strip() == 'WRITING'  # the logged point
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    temps = [p for p in os.listdir(tmp_path) if p.startswith('.epoch_3.pth.')]
    assert len(temps) == 1 and temps[0].endswith('.tmp')
    assert torch.load(path)['version'] == 1  # the old file is untouched
    # a temporary whose writer is alive is kept
    live = tmp_path / f'.epoch_3.pth.{os.getpid()}-0123abcd.tmp'
    live.write_bytes(b'x')
    atomic_torch_save({'version': 2}, str(path))
    assert torch.load(path)['version'] == 2
    assert [p for p in os.listdir(tmp_path) if p.endswith('.tmp')] == [live.name]


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait(60)
    return proc.pid


def test_any_write_cleans_stale_temporaries_of_every_target_in_its_folder(tmp_path):
    """A save killed during epoch_3.pth is cleaned by the save of epoch_4.pth (epoch_3.pth is
    never written again); live writers' temporaries and other files stay."""
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])
    try:
        stale = [
            f'.epoch_3.pth.{dead}-0123abcd.tmp',  # killed during the save of epoch_3
            '.epoch_2.pth.k3j_x9ab.tmp'
        ]  # tempfile.mkstemp name of earlier versions
        kept = [
            f'.epoch_3.pth.{sleeper.pid}-0123abcd.tmp',  # another process still writing
            f'.epoch_3.pth.{os.getpid()}-4567cdef.tmp',  # this process still writing
            '.hidden',
            '.epoch_3.pth.swp',
            '.notes.tmp',
            f'.x.pth.{dead}-0123ABCD.tmp',
            f'epoch_3.pth.{dead}-0123abcd.tmp'
        ]  # not a dotfile
        for name in stale + kept:
            (tmp_path / name).write_bytes(b'x')
        (tmp_path / f'.a.pth.{dead}-89abcdef.tmp').mkdir()  # a folder: not a temporary
        kept.append(f'.a.pth.{dead}-89abcdef.tmp')
        atomic_torch_save({'epoch': 4}, str(tmp_path / 'epoch_4.pth'))
        assert sorted(os.listdir(tmp_path)) == sorted(kept + ['epoch_4.pth'])
    finally:
        sleeper.kill()
        sleeper.wait(60)


def test_clean_stale_temporaries_of_one_target_keeps_the_others(tmp_path):
    dead = _dead_pid()
    mine, other = f'.bank.pth.{dead}-0123abcd.tmp', f'.other.pth.{dead}-0123abcd.tmp'
    for name in (mine, other):
        (tmp_path / name).write_bytes(b'x')
    removed = clean_stale_temporaries(str(tmp_path / 'bank.pth'))
    assert [os.path.basename(p) for p in removed] == [mine]
    assert os.listdir(tmp_path) == [other]


def test_clean_stale_temporaries_of_older_versions(tmp_path):
    # earlier mmamt versions used tempfile.mkstemp names, with no process id
    (tmp_path / '.bank.pth.k3j_x9ab.tmp').write_bytes(b'')
    (tmp_path / 'bank.pth').write_bytes(b'')
    removed = clean_stale_temporaries(str(tmp_path / 'bank.pth'))
    assert [os.path.basename(p) for p in removed] == ['.bank.pth.k3j_x9ab.tmp']
    assert sorted(os.listdir(tmp_path)) == ['bank.pth']


BANK = 'an AMT attention bank written by AttentionRefreshHook'


def write_unreadable_files(folder) -> dict:
    """Files a bank reader can meet, by what is wrong with each: ``{problem: path}``."""
    good = str(folder / 'epoch_1.pth')
    AttentionBank(4, (2, 2)).save(good)
    data = open(good, 'rb').read()
    paths = {p: str(folder / f'{p}.pth') for p in ('truncated', 'garbage', 'global', 'empty')}
    open(paths['truncated'], 'wb').write(data[:len(data) // 2])  # a copy cut short
    open(paths['garbage'], 'wb').write(b'not a torch file\n')
    open(paths['empty'], 'wb').close()
    torch.save({'x': os.path.join}, paths['global'])  # a function: refused by the safe loader
    return paths


@pytest.mark.parametrize('problem,phrase', [('truncated', 'truncated or corrupt'),
                                            ('empty', 'truncated or corrupt'),
                                            ('garbage', 'not a torch file'),
                                            ('global', 'refused by the safe unpickler'),
                                            ('missing', 'does not exist')])
def test_load_torch_file_names_the_file_and_the_problem(tmp_path, problem, phrase):
    paths = dict(write_unreadable_files(tmp_path), missing=str(tmp_path / 'missing.pth'))
    assert load_torch_file(str(tmp_path / 'epoch_1.pth'), BANK)['num_samples'] == 4
    with pytest.raises(UnreadableFileError) as err:
        load_torch_file(paths[problem], BANK)
    message = str(err.value)
    assert isinstance(err.value, ValueError) and err.value.path == paths[problem]
    assert paths[problem] in message and BANK in message and phrase in message
    assert '\n' not in message and 'weights_only' not in message  # no advice to load unsafely
    if problem == 'global':
        assert 'posixpath.join' in message  # what it references
