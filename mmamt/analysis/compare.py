"""Side by side pre-training: named variants, identical everything else, a frozen-encoder probe.

Each variant is a pre-training config plus overrides. For every variant and seed the harness
makes one mmengine config (data root, seed, work dir, the schedule scaled to the requested
epochs), trains it with a real ``Runner`` in its own subprocess (so runs never share threads or
state), probes the frozen encoder of the final checkpoint ([CLS] and mean-patch features,
logistic regression, :mod:`mmamt.analysis.probe`) and writes ``result.json`` into the run's work
dir. A run whose ``result.json`` matches its spec is reused, so seeds and variants can be added to
an earlier comparison. The variants, their overrides and schedule scaling are
:mod:`mmamt.analysis.variants` (the whole request is checked there before any run starts); the
tables are :mod:`mmamt.analysis.report`.
"""
import contextlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook

from mmamt.utils.io import atomic_write_bytes, pid_alive
from .report import format_attention_table, format_table, summarize
from .variants import RequestError, Variant, build_run_config, check_request, dry_run_config

RESULT_FILE = 'result.json'
SPEC_FILE = 'spec.json'
PROGRESS_FILE = 'progress.json'
LOCK_FILE = '.compare.lock'


class PretrainStatsHook(Hook):
    """Seconds per training epoch, tokens through the encoder and the mean loss per epoch.

    Epoch time runs from ``before_train_epoch`` to ``after_train_epoch`` at VERY_HIGH priority,
    so an attention refresh after the epoch is not part of it (it is in the run's total). Tokens
    are counted by a forward hook on the backbone in training mode: ``latent.shape[:2]`` of the
    encoder's output is ``(B, 1 + L_vis)`` for MAE and MAE-AMT alike.
    """

    def __init__(self) -> None:
        self.epoch_seconds: List[float] = []
        self.epoch_loss: List[float] = []
        self.epoch_tokens: List[float] = []  # encoder tokens per image, [CLS] included
        self._start = 0.0
        self._losses: List[float] = []
        self._tokens = [0, 0]
        self._handle = None

    def before_train(self, runner) -> None:
        from mmpretrain.utils import get_ori_model

        def count(module, inputs, output):
            # MAEViT returns (latent, mask, ids_restore), AMTMAEViT the latent alone.
            latent = output[0] if isinstance(output, (tuple, list)) else output
            if module.training and isinstance(latent, torch.Tensor) and latent.dim() == 3:
                self._tokens[0] += int(latent.shape[0] * latent.shape[1])
                self._tokens[1] += int(latent.shape[0])

        self._handle = get_ori_model(runner.model).backbone.register_forward_hook(count)

    def before_train_epoch(self, runner) -> None:
        self._losses, self._tokens[:] = [], [0, 0]
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if outputs and 'loss' in outputs:
            self._losses.append(float(outputs['loss']))

    def after_train_epoch(self, runner) -> None:
        self.epoch_seconds.append(time.perf_counter() - self._start)
        self.epoch_loss.append(float(np.mean(self._losses)) if self._losses else float('nan'))
        self.epoch_tokens.append(self._tokens[0] / max(self._tokens[1], 1))
        # What the parent process shows while the run trains (run_variants reads it).
        write_json(
            osp.join(runner.work_dir, PROGRESS_FILE),
            dict(
                epoch=runner.epoch + 1,
                max_epochs=runner.max_epochs,
                loss=self.epoch_loss[-1],
                train_seconds=float(sum(self.epoch_seconds))))

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()


def write_json(path: str, obj) -> None:
    """``obj`` as indented JSON, written atomically (:func:`mmamt.utils.atomic_write_bytes`)."""
    atomic_write_bytes(json.dumps(obj, indent=1).encode('utf-8'), path)


def _attention_report(runner) -> Optional[List[Dict]]:
    """Per refresh: entropy and attention share on objects (synthetic masks), or None."""
    bank_dir = osp.join(runner.work_dir, 'amt_bank')
    if not osp.isdir(bank_dir):
        return None
    from mmamt.utils.amt_config import build_mask_generator
    from .attention_stats import bank_report, find_bank_files
    dataset = runner.train_dataloader.dataset
    img_paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    records = bank_report(
        find_bank_files([bank_dir]), img_paths, generator=build_mask_generator(runner.cfg))
    keep = ('epoch', 'entropy', 'object_share', 'area_share', 'ratio', 'visible_object',
            'masked_object', 'thrown_object')
    return [{k: r[k] for k in keep} for r in records]


def run_one(spec: Dict) -> Dict:
    """Train and probe one (variant, seed) in this process; write and return its result.

    Args:
        spec (dict): ``variant`` (as :class:`Variant` fields), ``data_root``, ``work_dir``,
            ``epochs``, ``seed``, ``keep_visualization``, ``threads``.

    Returns:
        dict: The spec plus ``seconds_per_epoch`` (mean), ``epoch_seconds``, ``total_seconds``
        (training incl. refreshes and checkpoints), ``final_loss`` (mean of the last epoch),
        ``epoch_loss``, ``encoder_tokens`` (per image, [CLS] included, mean over epochs),
        ``epoch_tokens``, ``checkpoint``, ``probe`` (see :func:`mmamt.analysis.probe_model`) and
        ``attention`` (per refresh, or None).
    """
    from mmengine.runner import Runner

    import mmamt  # noqa: F401  (registers the AMT modules)
    from mmamt.analysis.probe import build_encoder_model, probe_model
    from mmamt.utils.train_setup import setup_train_config

    if spec.get('threads'):
        torch.set_num_threads(int(spec['threads']))
    variant = Variant(**spec['variant'])
    cfg = build_run_config(variant, spec['data_root'], spec['work_dir'], spec['epochs'],
                           spec['seed'], spec.get('keep_visualization', False))
    runner = Runner.from_cfg(setup_train_config(cfg))  # as tools/train.py builds it
    stats = PretrainStatsHook()
    runner.register_hook(stats, priority='VERY_HIGH')
    start = time.perf_counter()
    runner.train()
    total = time.perf_counter() - start
    checkpoint = osp.join(cfg.work_dir, f'epoch_{spec["epochs"]}.pth')
    model = build_encoder_model(cfg, checkpoint, seed=spec['seed'])
    result = dict(
        spec,
        seconds_per_epoch=float(np.mean(stats.epoch_seconds)),
        epoch_seconds=stats.epoch_seconds,
        total_seconds=total,
        final_loss=stats.epoch_loss[-1],
        epoch_loss=stats.epoch_loss,
        encoder_tokens=float(np.mean(stats.epoch_tokens)),
        epoch_tokens=stats.epoch_tokens,
        checkpoint=checkpoint,
        probe=probe_model(model, spec['data_root']),
        attention=_attention_report(runner))
    write_json(osp.join(cfg.work_dir, RESULT_FILE), result)
    return result


def run_from_file(spec_path: str) -> None:
    """Subprocess entry: ``python -c 'from mmamt.analysis.compare import run_from_file; ...'``."""
    with open(spec_path, encoding='utf-8') as f:
        run_one(json.load(f))


def reusable_result(work_dir: str, spec: Dict) -> Optional[Dict]:
    """The ``result.json`` in ``work_dir`` if it matches ``spec`` (all keys but ``threads``)."""
    try:
        with open(osp.join(work_dir, RESULT_FILE), encoding='utf-8') as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    same = all(result.get(k) == v for k, v in spec.items() if k != 'threads')
    return result if same else None


def _report_progress(spec: Dict,
                     started: float,
                     shown: Dict[str, int],
                     log,
                     steps: int = 10) -> None:
    """Log a running run's epoch, loss and time left at every ``1/steps`` of its epochs."""
    try:
        with open(osp.join(spec['work_dir'], PROGRESS_FILE), encoding='utf-8') as f:
            progress = json.load(f)
    except (OSError, ValueError):
        return
    epoch, total = int(progress['epoch']), int(progress['max_epochs'])
    every = max(1, total // steps)
    last = shown.get(spec['work_dir'], 0)
    if epoch <= last or (epoch % every and epoch != total):
        return
    shown[spec['work_dir']] = epoch
    elapsed = time.perf_counter() - started
    left = elapsed / epoch * (total - epoch)
    log(f'[compare] {spec["variant"]["name"]} seed {spec["seed"]}: epoch {epoch}/{total}, '
        f'loss {progress["loss"]:.3f}, {elapsed:.0f}s so far, about {left:.0f}s left')


def run_variants(variants: Sequence[Variant],
                 data_root: str,
                 work_dir: str,
                 epochs: int,
                 seeds: Sequence[int],
                 jobs: int = 1,
                 threads: int = 1,
                 keep_visualization: bool = False,
                 reuse: bool = True,
                 log=print,
                 variant_epochs: Optional[Dict[str, int]] = None) -> List[Dict]:
    """Train and probe every (variant, seed), ``jobs`` subprocesses at a time.

    Each run lives in ``work_dir/<variant>/seed<k>/`` (its log in ``train.log``); runs are
    started seed-major, so the first results to come in cover every variant.

    Args:
        variants (Sequence[Variant]): What to compare (unique names).
        data_root (str): Class-folder data with ``train/`` and ``val/``.
        work_dir (str): Root of the runs.
        epochs (int): Epochs of every run.
        seeds (Sequence[int]): Seeds; every variant runs with each.
        jobs (int): Runs at a time. Defaults to 1.
        threads (int): Torch (and OpenMP) threads per run; keep ``jobs * threads`` at most the
            number of cores, oversubscription makes small runs many times slower. Defaults to 1.
        keep_visualization (bool): Keep AMT panels after each refresh. Defaults to False.
        reuse (bool): Reuse a run whose ``result.json`` matches its spec. Defaults to True.
        log (callable): Where progress lines go. Defaults to ``print``.
        variant_epochs (dict, optional): Epochs of the variants named in it, instead of
            ``epochs`` (``--equal-compute``). Defaults to None.

    Returns:
        list[dict]: The results of :func:`run_one`, in (seed, variant) order.

    Raises:
        ValueError: If the request is wrong (:func:`~mmamt.analysis.variants.check_request`),
            before any run starts.
        RuntimeError: If a run fails (the message names its log), or another comparison holds
            ``work_dir``.
    """
    if jobs < 1 or threads < 1:
        raise ValueError(f'--jobs {jobs} and --threads {threads} must be >= 1')
    check_request(variants, data_root, epochs, seeds)
    epochs_of = {v.name: int((variant_epochs or {}).get(v.name, epochs)) for v in variants}
    with exclusive_work_dir(work_dir):
        return _run_all(variants, data_root, work_dir, epochs_of, seeds, jobs, threads,
                        keep_visualization, reuse, log)


@contextlib.contextmanager
def exclusive_work_dir(work_dir: str) -> Iterator[None]:
    """Hold ``work_dir`` for this comparison: a second one on the same folder is refused.

    The lock is ``work_dir/.compare.lock`` holding the process id; one left by a killed
    comparison (its process gone) is taken over.

    Raises:
        RuntimeError: If a live comparison holds the folder.
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_FILE)
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                with open(path, encoding='utf-8') as f:
                    holder = int(f.read().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and pid_alive(holder):
                raise RuntimeError(f'work dir {work_dir} is in use by another comparison (pid '
                                   f'{holder}): two comparisons would train into the same run '
                                   'folders; give another --work-dir or wait for it') from None
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(str(os.getpid()))
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def subprocess_env(threads: int) -> Dict[str, str]:
    """The environment of a run's subprocess: ``threads`` OpenMP / MKL threads, and the very
    mmamt this process runs (a checkout or an install) first on the path."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    package_root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (package_root, os.environ.get('PYTHONPATH')) if p)
    return env


def _run_all(variants: Sequence[Variant], data_root: str, work_dir: str, epochs_of: Dict[str, int],
             seeds: Sequence[int], jobs: int, threads: int, keep_visualization: bool, reuse: bool,
             log) -> List[Dict]:
    """:func:`run_variants` once the request is checked and the work dir held."""
    pending, results = [], {}
    for seed in seeds:
        for variant in variants:
            run_dir = osp.abspath(osp.join(work_dir, variant.name, f'seed{seed}'))
            spec = dict(
                variant=asdict(variant),
                data_root=osp.abspath(data_root),
                work_dir=run_dir,
                epochs=epochs_of[variant.name],
                seed=int(seed),
                keep_visualization=bool(keep_visualization),
                threads=int(threads))
            done = reusable_result(run_dir, spec) if reuse else None
            if done is not None:
                log(f'[compare] {variant.name} seed {seed}: reusing {run_dir}')
                results[(variant.name, seed)] = done
            else:
                pending.append(spec)
    env = subprocess_env(threads)
    running = []
    shown: Dict[str, int] = {}  # work dir -> the last epoch reported
    while pending or running:
        while pending and len(running) < jobs:
            spec = pending.pop(0)
            os.makedirs(spec['work_dir'], exist_ok=True)
            if osp.exists(osp.join(spec['work_dir'], PROGRESS_FILE)):  # an earlier attempt's
                os.remove(osp.join(spec['work_dir'], PROGRESS_FILE))
            spec_path = osp.join(spec['work_dir'], SPEC_FILE)
            write_json(spec_path, spec)
            log_path = osp.join(spec['work_dir'], 'train.log')
            log_file = open(log_path, 'w', encoding='utf-8')
            code = f'from mmamt.analysis.compare import run_from_file; run_from_file({spec_path!r})'
            proc = subprocess.Popen([sys.executable, '-c', code],
                                    stdout=log_file,
                                    stderr=subprocess.STDOUT,
                                    env=env)
            name = spec['variant']['name']
            log(f'[compare] {name} seed {spec["seed"]}: training {spec["epochs"]} epochs '
                f'(log: {log_path})')
            running.append((proc, spec, log_file, log_path, time.perf_counter()))
        time.sleep(0.5)
        for item in list(running):
            proc, spec, log_file, log_path, started = item
            if proc.poll() is None:
                _report_progress(spec, started, shown, log)
                continue
            running.remove(item)
            log_file.close()
            name = spec['variant']['name']
            if proc.returncode == 0:
                _report_progress(spec, started, shown, log)  # the last epoch, if not yet shown
            else:
                for other in running:
                    other[0].kill()
                with open(log_path, encoding='utf-8', errors='replace') as f:
                    tail = ''.join(f.readlines()[-15:])
                raise RuntimeError(f'run {name} seed {spec["seed"]} failed (exit '
                                   f'{proc.returncode}); see {log_path}:\n{tail}')
            with open(osp.join(spec['work_dir'], RESULT_FILE), encoding='utf-8') as f:
                result = json.load(f)
            results[(name, spec['seed'])] = result
            top1 = result['probe']['top1']
            log(f'[compare] {name} seed {spec["seed"]}: done in '
                f'{time.perf_counter() - started:.0f}s, probe [CLS] {top1["cls"]:.1f}% / '
                f'mean-patch {top1["mean"]:.1f}%')
    return [results[(v.name, s)] for s in seeds for v in variants]


def probe_random(config: str, data_root: str, seeds: Sequence[int]) -> List[Dict]:
    """Probe results of the config's randomly initialised encoder, one per seed."""
    from mmamt.analysis.probe import probe
    return [probe(config, None, data_root, seed=s) for s in seeds]


def compare(variants: Sequence[Variant],
            data_root: str,
            work_dir: str,
            epochs: int,
            seeds: Sequence[int],
            jobs: int = 1,
            threads: int = 1,
            keep_visualization: bool = False,
            probe_random_init: bool = True,
            reuse: bool = True,
            log=print,
            equal_compute: Optional[str] = None) -> Dict:
    """Run, probe and summarise; writes ``work_dir/summary.json``.

    Args:
        equal_compute (str, optional): A variant's name: it runs ``epochs`` epochs, every other
            variant the epochs whose training FLOPs (refreshes included,
            :mod:`mmamt.analysis.compute`) are nearest its. Defaults to None (``epochs`` for
            all). The rest as :func:`run_variants`.

    Returns:
        dict: ``summary`` (:func:`summarize`; per variant its ``gflops``), ``runs`` (every
        result), ``table`` (Markdown), ``epochs`` (per variant).
    """
    check_request(variants, data_root, epochs, seeds)
    gflops = _count_gflops(variants, data_root, epochs, equal_compute, log)
    variant_epochs = {name: g['epochs'] for name, g in gflops.items()}
    results = run_variants(variants, data_root, work_dir, epochs, seeds, jobs, threads,
                           keep_visualization, reuse, log, variant_epochs)
    random = probe_random(variants[0].config, data_root, seeds) if probe_random_init else None
    summary = summarize(results, random, gflops)
    out = dict(
        summary=summary,
        runs=list(results),
        table=format_table(summary),
        attention_table=format_attention_table(results),
        epochs=variant_epochs,
        equal_compute=equal_compute,
        seeds=list(seeds),
        data_root=osp.abspath(data_root))
    os.makedirs(work_dir, exist_ok=True)
    write_json(osp.join(work_dir, 'summary.json'), out)
    return out


def _count_gflops(variants: Sequence[Variant], data_root: str, epochs: int,
                  equal_compute: Optional[str], log) -> Dict[str, Dict]:
    """Every variant's :func:`~mmamt.analysis.compute.variant_gflops` at the epochs it runs:
    ``epochs``, or with ``equal_compute`` those matching that variant's FLOPs at ``epochs``."""
    from .compute import equal_compute_epochs, forward_gflops, variant_gflops
    names = [v.name for v in variants]
    if equal_compute is not None and equal_compute not in names:
        raise RequestError(f'--equal-compute {equal_compute!r} is not a variant (they are '
                           f'{", ".join(names)})')
    forward = {v.name: forward_gflops(dry_run_config(v, data_root, epochs)) for v in variants}
    epochs_of = {name: int(epochs) for name in names}
    if equal_compute is not None:
        ref = next(v for v in variants if v.name == equal_compute)
        budget = variant_gflops(ref, data_root, epochs, forward[ref.name])['total']
        for v in variants:
            if v.name != equal_compute:
                epochs_of[v.name] = equal_compute_epochs(v, data_root, budget, forward[v.name])
                log(f'[compare] {v.name}: {epochs_of[v.name]} epochs compute what '
                    f'{equal_compute} does in {epochs} ({budget:.3g} GFLOPs per image)')
    return {
        v.name: variant_gflops(v, data_root, epochs_of[v.name], forward[v.name])
        for v in variants
    }
