"""``import mmamt`` changes exactly two pieces of process-wide state, both named here.

1. torch's ``weights_only`` allow-list gains the data-only types of OpenMMLab Runner checkpoints
   (``mmamt.utils.safe_checkpoint_globals``), so ``--resume`` works under torch >= 2.6 without
   switching the safe loader off.
2. mmengine's file backends gain ``mmamt_atomic_local`` (atomic checkpoint writes); no backend
   of mmengine's is replaced.

Everything else it registers goes into the OpenMMLab registries, which is what importing an
OpenMMLab extension is for.
"""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import json
    import torch
    from mmengine.fileio.backends import registry_utils

    def state():
        safe = getattr(torch.serialization, 'get_safe_globals', lambda: [])()
        return ([repr(g) for g in safe],
                {k: v.__qualname__ for k, v in registry_utils.backends.items()},
                {k: v.__qualname__ for k, v in registry_utils.prefix_to_backends.items()},
                torch.get_num_threads(), torch.get_default_dtype())

    before = state()
    import mmamt
    from mmamt.utils import safe_checkpoint_globals
    after = state()
    print(json.dumps(dict(
        safe_added=sorted(set(after[0]) - set(before[0])),
        safe_removed=sorted(set(before[0]) - set(after[0])),
        expected_safe=sorted({repr(g) for g in safe_checkpoint_globals()} - set(before[0])),
        backends_added=sorted(set(after[1]) - set(before[1])),
        backends_changed=sorted(k for k in before[1] if after[1].get(k) != before[1][k]),
        prefixes_changed=after[2] != before[2],
        threads_changed=after[3] != before[3],
        dtype_changed=str(after[4]) != str(before[4]))))
''')


def test_import_changes_only_the_named_state():
    import json
    out = subprocess.run([sys.executable, '-c', SCRIPT],
                         capture_output=True,
                         text=True,
                         timeout=300,
                         check=True).stdout
    diff = json.loads(out.strip().splitlines()[-1])
    added = set(diff['safe_added'])
    assert set(diff['expected_safe']) <= added and not diff['safe_removed']
    # the rest is torch's own (torch modules that importing mmpretrain loads register theirs)
    assert all('torch.' in g for g in added - set(diff['expected_safe'])), added
    assert diff['backends_added'] == ['mmamt_atomic_local']
    assert diff['backends_changed'] == [] and not diff['prefixes_changed']
    assert not diff['threads_changed'] and not diff['dtype_changed']
