"""Measure what the AMT attention bank costs in memory across a dataloader's worker processes.

An ``AttentionBank`` of ``--num-samples`` maps is attached to a ``LoadAttentionMap`` inside a
small Dataset, read by a torch DataLoader with ``--workers`` persistent workers. Every worker
reads every map once; then the memory of the whole process tree (main process + workers) is
the sum of their PSS (``/proc/<pid>/smaps_rollup``), which counts a page shared by k processes
as 1/k in each, so shared memory is counted once in total. Only anonymous and shared-memory
PSS (``Pss_Anon + Pss_Shmem``) is summed: file-backed pages (the torch libraries) are the same in
both trees, and their PSS changes with every other process on the machine that maps them.

The maps' cost is the tree with the bank minus the same tree with a bank of ONE map (same code
path, so fixed costs such as torch's first tensor indexing in each worker cancel); the tree
without any bank gives everything the bank brings. Each configuration runs in a fresh child
process, in alternating order, ``--trials`` times; medians are reported.

The bank's own shared mapping (torch's ``/dev/shm``-backed storage, named ``torch_*``) is also
summed over the tree from ``/proc/<pid>/smaps`` as a direct cross-check.

Target: at most 1 byte per patch per image in total (9.8 MB for 50,000 x 14 x 14), not per
worker (the reference code held float32 maps in every process: 4 bytes x (1 + workers)).

    python tools/analysis_tools/benchmark_bank_memory.py --num-samples 50000 --workers 4
"""
import argparse
import ctypes
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

TARGET_BYTES_PER_PATCH = 1.0
MODES = ('none', 'one', 'bank')
NOISE_ALLOWANCE = 0.01  # anonymous PSS of a ~0.5 GB tree moves by ~0.1 MB between runs


def pss_kb(pid: int) -> Dict[str, int]:
    """``Pss``, ``Pss_Anon``, ``Pss_File`` and ``Pss_Shmem`` of one process, kB."""
    out = {}
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            key = line.split(':', 1)[0]
            if key in ('Pss', 'Pss_Anon', 'Pss_File', 'Pss_Shmem'):
                out[key] = int(line.split()[1])
    if 'Pss_Anon' not in out:
        raise RuntimeError(f'/proc/{pid}/smaps_rollup has no Pss_Anon (kernel < 5.8?)')
    return out


def shm_mapping_pss_kb(pid: int, marker: str = '/dev/shm/torch_') -> int:
    """PSS of the process's mappings whose path contains ``marker`` (torch shared storage)."""
    total, inside = 0, False
    with open(f'/proc/{pid}/smaps') as f:
        for line in f:
            first = line.split(None, 1)[0]
            if '-' in first and ':' not in first:  # a mapping header "start-end perms ..."
                inside = marker in line
            elif inside and line.startswith('Pss:'):
                total += int(line.split()[1])
    return total


def child(mode: str, num_samples: int, grid: Sequence[int], workers: int) -> Dict:
    """Build the tree, touch every map in every worker, measure.

    Args:
        mode (str): 'bank' (a bank of ``num_samples`` maps), 'one' (a bank of one map, read
            ``num_samples`` times: the same code path, so its fixed costs cancel) or 'none'
            (no bank attached: the transform returns no map).
        num_samples (int): Maps in the bank, and reads per worker.
        grid (Sequence[int]): ``(h, w)`` of each map.
        workers (int): Persistent dataloader workers.

    Returns:
        dict: PSS of the tree and of its torch shared mappings, per process and summed.
    """
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, Dataset, get_worker_info

    from mmamt.datasets import AttentionBank
    from mmamt.datasets.transforms import LoadAttentionMap

    class TouchAll(Dataset):
        """Item k: the worker that gets it reads every sample's map through the transform."""

        def __init__(self, transform: LoadAttentionMap) -> None:
            self.transform = transform

        def __len__(self) -> int:
            return workers

        def __getitem__(self, k: int):
            checksum = 0.0
            for idx in range(num_samples):
                m = self.transform(dict(sample_idx=idx % bank_size))['attn_map']
                if m is not None:
                    checksum += float(m.flat[-1])
            return torch.tensor([get_worker_info().id, os.getpid(), checksum], dtype=torch.float64)

    load = LoadAttentionMap()
    bank_size = {'bank': num_samples, 'one': 1, 'none': 1}[mode]
    if mode != 'none':
        bank = AttentionBank(bank_size, tuple(grid))
        g = torch.Generator().manual_seed(0)
        # Filled batch by batch, as the refresh hook writes it.
        for start in range(0, bank_size, 1024):
            idx = torch.arange(start, min(start + 1024, bank_size))
            bank.update(idx, torch.rand(len(idx), *grid, generator=g))
        bank.mark_refreshed(40)
        load.attach(bank)
    # Hand freed heap pages back before forking, in both trees alike, so that allocator
    # leftovers of the set-up are not counted as the bank's.
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError:
        pass
    # batch_size 1 and len == workers: the loader hands item k to worker k (round robin).
    loader = DataLoader(TouchAll(load), batch_size=1, num_workers=workers, persistent_workers=True)
    seen = [row[0].tolist() for row in loader]
    worker_ids = sorted({int(r[0]) for r in seen})
    worker_pids = [w.pid for w in loader._iterator._workers]
    pids = [os.getpid()] + worker_pids
    per_process = [pss_kb(pid) for pid in pids]
    shm = {pid: shm_mapping_pss_kb(pid) for pid in pids}
    # Anonymous + shared-memory PSS: file-backed pages (libtorch & co.) are the same code in both
    # trees, and their PSS moves with whatever other processes on the machine map them too.
    out = dict(
        mode=mode,
        workers_that_read=len(worker_ids),
        tree_pss_kb=sum(p['Pss_Anon'] + p['Pss_Shmem'] for p in per_process),
        tree_pss_all_kb=sum(p['Pss'] for p in per_process),
        per_process_pss_kb=per_process,
        torch_shm_pss_kb=sum(shm.values()),
        torch_shm_pss_kb_per_process=list(shm.values()),
        checksum=float(np.sum([r[2] for r in seen])))
    del loader
    return out


def run_child(mode: str, args) -> Dict:
    cmd = [
        sys.executable,
        osp.abspath(__file__), '--child', mode, '--num-samples',
        str(args.num_samples), '--grid', *map(str, args.grid), '--workers',
        str(args.workers)
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f'child {mode} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=50000)
    parser.add_argument('--grid', type=int, nargs=2, default=(14, 14), metavar=('H', 'W'))
    parser.add_argument('--workers', type=int, default=4)
    parser.add_argument('--trials', type=int, default=3)
    parser.add_argument('--json', default=None, help='write the results here')
    parser.add_argument('--child', choices=MODES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.num_samples < 1 or args.workers < 1 or args.trials < 1:
        parser.error('--num-samples, --workers and --trials must be >= 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.num_samples, args.grid, args.workers)))
        return {}
    patches = args.num_samples * args.grid[0] * args.grid[1]
    runs: Dict[str, List[Dict]] = {m: [] for m in MODES}
    for trial in range(args.trials):
        order = MODES if trial % 2 == 0 else MODES[::-1]
        for mode in order:
            runs[mode].append(run_child(mode, args))
    for r in runs['bank']:
        if r['workers_that_read'] != args.workers:
            raise RuntimeError(f'only {r["workers_that_read"]} of {args.workers} workers read '
                               'the maps')

    def median_kb(mode: str, key: str = 'tree_pss_kb') -> float:
        return statistics.median(r[key] for r in runs[mode]) * 1024

    # Memory of the maps themselves: bank of N maps minus a bank of one (same code path).
    per_map = median_kb('bank') - median_kb('one')
    # Everything the bank brings, fixed costs of reading it in the workers included.
    total = median_kb('bank') - median_kb('none')
    shm = median_kb('bank', 'torch_shm_pss_kb') - median_kb('none', 'torch_shm_pss_kb')
    limit = TARGET_BYTES_PER_PATCH * (1 + NOISE_ALLOWANCE)
    results = dict(
        num_samples=args.num_samples,
        grid=list(args.grid),
        workers=args.workers,
        trials=args.trials,
        patches=patches,
        ideal_bytes=patches,
        maps_bytes=per_map,
        bytes_per_patch=per_map / patches,
        total_bytes=total,
        total_bytes_per_patch=total / patches,
        shm_mapping_bytes=shm,
        shm_bytes_per_patch=shm / patches,
        reference_float32_bytes=4 * patches * (1 + args.workers),
        target_bytes_per_patch=TARGET_BYTES_PER_PATCH,
        noise_allowance=NOISE_ALLOWANCE,
        # The ideal is exactly the target (uint8, once), so 1% is allowed for PSS noise.
        met=bool(per_map / patches <= limit),
        runs=runs,
        method=('sum of Pss_Anon + Pss_Shmem (smaps_rollup) over main + persistent workers after '
                'every worker read every map; medians over trials of fresh child processes; '
                'maps = bank of N minus bank of 1, total = bank of N minus no bank; cross-check: '
                'PSS of the /dev/shm/torch_* mappings'))
    print(f"bank {args.num_samples} x {args.grid[0]}x{args.grid[1]} ({patches / 1e6:.2f} M "
          f"patches), {args.workers} persistent workers, {args.trials} trials")
    print(f"  the maps (bank of N - bank of 1): {per_map / 1e6:.2f} MB = "
          f"{per_map / patches:.3f} byte/patch/image")
    print(f"  all the bank brings (bank of N - no bank): {total / 1e6:.2f} MB = "
          f"{total / patches:.3f} byte/patch/image")
    print(f"  torch shared mappings in the tree: {shm / 1e6:.2f} MB = "
          f"{shm / patches:.3f} byte/patch/image")
    print(f"  ideal (uint8, once): {patches / 1e6:.2f} MB; float32 per process as in the "
          f"reference: {results['reference_float32_bytes'] / 1e6:.1f} MB")
    print(f"  target <= {TARGET_BYTES_PER_PATCH} byte/patch/image (+1% noise): "
          f"{'met' if results['met'] else 'MISSED'}")
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
