"""Issue 14, item 7: atomic files honour the umask, and a killed write leaves nothing forever."""
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest
import torch

from mmamt.utils import atomic_torch_save, clean_stale_temporaries

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
    proc = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, str(path)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'WRITING'  # the logged point
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    temps = [p for p in os.listdir(tmp_path) if p.startswith('.epoch_3.pth.')]
    assert len(temps) == 1 and temps[0].endswith('.tmp')
    assert torch.load(path)['version'] == 1  # the old file is untouched
    # a temporary of another target, and one whose writer is alive, are kept
    other = tmp_path / f'.epoch_30.pth.{proc.pid}-0123abcd.tmp'  # dead writer, other target
    live = tmp_path / f'.epoch_3.pth.{os.getpid()}-0123abcd.tmp'
    other.write_bytes(b'x')
    live.write_bytes(b'x')
    atomic_torch_save({'version': 2}, str(path))
    assert torch.load(path)['version'] == 2
    left = sorted(p for p in os.listdir(tmp_path) if p.endswith('.tmp'))
    assert left == sorted([other.name, live.name])


def test_clean_stale_temporaries_of_older_versions(tmp_path):
    # earlier mmamt versions used tempfile.mkstemp names, with no process id
    (tmp_path / '.bank.pth.k3j_x9ab.tmp').write_bytes(b'')
    (tmp_path / 'bank.pth').write_bytes(b'')
    removed = clean_stale_temporaries(str(tmp_path / 'bank.pth'))
    assert [os.path.basename(p) for p in removed] == ['.bank.pth.k3j_x9ab.tmp']
    assert sorted(os.listdir(tmp_path)) == ['bank.pth']
