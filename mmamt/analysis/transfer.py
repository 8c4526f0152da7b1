"""Transfer of pre-trained encoders to detection and segmentation, side by side.

For every encoder (a pre-training checkpoint, or ``None``: the random-initialisation floor),
every task and every fine-tune seed the comparison converts the encoder for the task's package
(:func:`mmamt.downstream.convert_checkpoint`, strict: every weight loads), fine-tunes the task's
config with a real ``Runner`` in its own subprocess, tests it and writes ``result.json`` into the
run's folder ``work_dir/<task>/<encoder>/seed<k>/``:

- ``det``: mmdet Mask R-CNN (ViTDet recipe), mmdet's ``CocoMetric``: bbox AP, mask AP, AP50;
- ``seg``: mmseg UperNet, mmseg's ``IoUMetric``: mIoU, aAcc.

Bookkeeping: a run whose ``result.json`` matches its spec is reused; an unfinished run of the
same spec resumes from its last checkpoint (mmengine's ``resume``), a folder left by another
spec is cleared first; a run that fails is named in the table with its
log and reported as failed, never with a number; ``result.json`` is written atomically at the
very end, so a run that did not finish has none. The table gives mean ± std over the fine-tune
seeds that finished, and the seconds they took.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from .compare import (RESULT_FILE, SPEC_FILE, exclusive_work_dir, reusable_result, subprocess_env,
                      write_json)
from .report import mean_spread

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs', 'benchmarks')
TASKS = {
    'det': osp.join(CONFIG_DIR, 'mmdet', 'mask-rcnn_vit-tiny-p8_simplefpn_scenes-a-128px.py'),
    'seg': osp.join(CONFIG_DIR, 'mmseg', 'upernet_vit-tiny-p8_scenes-a-128px.py'),
}
TARGET = {'det': 'mmdet', 'seg': 'mmseg'}
# result key -> the metric the Runner's test returns, scaled to percent
METRICS = {
    'det': {
        'bbox_AP': 'coco/bbox_mAP',
        'mask_AP': 'coco/segm_mAP',
        'bbox_AP50': 'coco/bbox_mAP_50',
        'mask_AP50': 'coco/segm_mAP_50'
    },
    'seg': {
        'mIoU': 'mIoU',
        'aAcc': 'aAcc'
    },
}
# The table's columns: (task, metric)
COLUMNS = (('det', 'bbox_AP'), ('det', 'mask_AP'), ('seg', 'mIoU'))
RANDOM = 'random'


@dataclass
class Encoder:
    """A named encoder to fine-tune: a pre-training checkpoint, or None for random init."""
    name: str
    checkpoint: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in '-_.' for c in self.name):
            raise ValueError(f'encoder name {self.name!r} must be non-empty letters, digits, '
                             '"-", "_" or "."')
        if self.checkpoint is not None:
            self.checkpoint = osp.abspath(self.checkpoint)


def parse_encoder(text: str) -> Encoder:
    """``NAME=CHECKPOINT`` (``--encoder``) to an Encoder; the checkpoint must exist."""
    if '=' not in text:
        raise ValueError(f'--encoder needs NAME=CHECKPOINT, got {text!r}')
    name, path = text.split('=', 1)
    if not osp.isfile(path):
        raise ValueError(f'--encoder {name}: no checkpoint {path!r}')
    return Encoder(name, path)


def encoders_from_harness(work_dir: str, seed: int = 0) -> List[Encoder]:
    """The final checkpoint of every variant of a pre-training comparison, at ``seed``.

    Reads ``work_dir/<variant>/seed<seed>/result.json`` (what
    :func:`mmamt.analysis.compare.run_variants` writes when a run finished).

    Raises:
        ValueError: If no finished run of that seed is there.
    """
    encoders = []
    for name in sorted(os.listdir(work_dir)) if osp.isdir(work_dir) else []:
        path = osp.join(work_dir, name, f'seed{seed}', RESULT_FILE)
        if not osp.isfile(path):
            continue
        with open(path, encoding='utf-8') as f:
            checkpoint = json.load(f).get('checkpoint')
        if checkpoint and osp.isfile(checkpoint):
            encoders.append(Encoder(name, checkpoint))
    if not encoders:
        raise ValueError(f'--from-harness {work_dir!r}: no finished pre-training run of seed '
                         f'{seed} (<variant>/seed{seed}/result.json with its checkpoint)')
    return encoders


def check_scenes_root(data_root: str, tasks: Sequence[str]) -> None:
    """Refuse a data folder the task configs could not read (before any run starts)."""
    need = {
        'det': [
            'annotations/instances_train.json', 'annotations/instances_val.json', 'images/train',
            'images/val'
        ],
        'seg': ['masks/train', 'masks/val', 'images/train', 'images/val'],
    }
    for task in tasks:
        missing = [p for p in need[task] if not osp.exists(osp.join(data_root, p))]
        if missing:
            raise ValueError(f'data_root {data_root!r} lacks {", ".join(missing)} for task '
                             f'{task!r}: the scenes layout (../shared/data/scenes-a/README.md)')


def build_finetune_config(spec: Dict):
    """The mmengine config of one fine-tune run (see :func:`run_one` for ``spec``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(spec['config'])
    root = osp.abspath(spec['data_root'])
    cfg.work_dir = spec['work_dir']
    cfg.randomness = dict(seed=int(spec['seed']))
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = root
        loader.num_workers = 0
        loader.persistent_workers = False
    if spec['task'] == 'det':
        for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
            evaluator.ann_file = osp.join(root, 'annotations', 'instances_val.json')
    if spec.get('max_iters'):
        _scale_iters(cfg, int(spec['max_iters']))
    cfg.model.backbone.init_cfg = (
        dict(type='Pretrained', checkpoint=spec['converted']) if spec['converted'] else None)
    cfg.resume = True  # an unfinished run goes on from its last checkpoint
    return cfg


def _scale_iters(cfg, max_iters: int) -> None:
    """Stretch an iteration-based schedule to ``max_iters`` (milestones and ends scaled)."""
    old = int(cfg.train_cfg.max_iters)
    factor = max_iters / old
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    for sched in cfg.param_scheduler:
        for key in ('begin', 'end'):
            if key in sched:
                sched[key] = min(max_iters, max(0, int(round(sched[key] * factor))))
        if 'milestones' in sched:
            sched['milestones'] = [max(1, int(round(m * factor))) for m in sched['milestones']]
        if sched.get('end', 1) <= sched.get('begin', 0):
            sched['end'] = sched.get('begin', 0) + 1
    cfg.default_hooks.checkpoint.interval = max(1, max_iters // 4)


def run_one(spec: Dict) -> Dict:
    """Convert, fine-tune and test one (task, encoder, seed) in this process.

    Args:
        spec (dict): ``task``, ``config``, ``encoder`` (:class:`Encoder` fields), ``data_root``,
            ``work_dir``, ``seed``, ``max_iters`` (None: the config's), ``threads``.

    Returns:
        dict: The spec plus ``metrics`` (percent), ``coverage`` (of the converted checkpoint),
        ``train_seconds``, ``test_seconds``.
    """
    import torch
    from mmengine.runner import Runner

    import mmamt  # noqa: F401
    from mmamt.downstream.convert import convert_checkpoint
    from mmamt.utils.train_setup import setup_train_config
    if spec.get('threads'):
        torch.set_num_threads(int(spec['threads']))
    checkpoint = spec['encoder']['checkpoint']
    converted, coverage = None, None
    if checkpoint:
        converted = osp.join(spec['work_dir'], f'backbone_{TARGET[spec["task"]]}.pth')
        result = convert_checkpoint(checkpoint, converted, TARGET[spec['task']], force=True)
        coverage = result.coverage.summary()
    cfg = build_finetune_config(dict(spec, converted=converted))
    runner = Runner.from_cfg(setup_train_config(cfg))
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    metrics = runner.test()
    test_seconds = time.perf_counter() - start
    values = {}
    for key, name in METRICS[spec['task']].items():
        value = float(metrics[name])
        # CocoMetric reports fractions, IoUMetric percent.
        values[key] = value * 100 if spec['task'] == 'det' else value
    result = dict(
        spec,
        metrics=values,
        coverage=coverage,
        train_seconds=train_seconds,
        test_seconds=test_seconds)
    write_json(osp.join(spec['work_dir'], RESULT_FILE), result)
    return result


def run_from_file(spec_path: str) -> None:
    """Subprocess entry (``python -c``)."""
    with open(spec_path, encoding='utf-8') as f:
        run_one(json.load(f))


def make_specs(encoders: Sequence[Encoder],
               data_root: str,
               work_dir: str,
               tasks: Sequence[str],
               seeds: Sequence[int],
               max_iters: Optional[Dict[str, int]] = None,
               threads: int = 1) -> List[Dict]:
    """One spec per (seed, task, encoder), seed-major: the first results cover every row."""
    specs = []
    for seed in seeds:
        for task in tasks:
            for encoder in encoders:
                specs.append(
                    dict(
                        task=task,
                        config=TASKS[task],
                        encoder=asdict(encoder),
                        data_root=osp.abspath(data_root),
                        work_dir=osp.abspath(osp.join(work_dir, task, encoder.name, f'seed{seed}')),
                        seed=int(seed),
                        max_iters=(max_iters or {}).get(task),
                        threads=int(threads)))
    return specs


def check_request(encoders: Sequence[Encoder],
                  data_root: str,
                  tasks: Sequence[str],
                  seeds: Sequence[int],
                  max_iters: Optional[Dict[str, int]] = None) -> None:
    """Check a whole comparison before any run starts.

    Raises:
        ValueError: Naming the offending option: no encoder, a name twice, an unknown task, bad
            seeds or iterations, or a data folder without the scenes layout.
    """
    from .variants import check_seeds
    if not encoders:
        raise ValueError('give at least one --encoder (or --from-harness)')
    names = [e.name for e in encoders]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f'encoder name(s) {twice} used more than once (each names its folder)')
    bad = [t for t in tasks if t not in TASKS]
    if not tasks or bad:
        raise ValueError(f'--tasks {list(tasks)}: each must be one of {sorted(TASKS)}')
    check_seeds(seeds)
    for task, iters in (max_iters or {}).items():
        if iters is not None and (int(iters) != iters or iters < 1):
            raise ValueError(f'--iters {task}={iters} must be an integer >= 1')
    check_scenes_root(data_root, tasks)


def run_transfer(encoders: Sequence[Encoder],
                 data_root: str,
                 work_dir: str,
                 tasks: Sequence[str] = ('det', 'seg'),
                 seeds: Sequence[int] = (0, 1),
                 jobs: int = 1,
                 threads: int = 1,
                 max_iters: Optional[Dict[str, int]] = None,
                 reuse: bool = True,
                 log=print) -> Dict:
    """Fine-tune every (task, encoder, seed), ``jobs`` subprocesses at a time, and summarise.

    Writes ``work_dir/summary.json`` (``summary``, ``runs``, ``failed``, ``table``).

    Returns:
        dict: What ``summary.json`` holds.
    """
    if jobs < 1 or threads < 1:
        raise ValueError(f'--jobs {jobs} and --threads {threads} must be >= 1')
    check_request(encoders, data_root, tasks, seeds, max_iters)
    specs = make_specs(encoders, data_root, work_dir, tasks, seeds, max_iters, threads)
    with exclusive_work_dir(work_dir):
        results, failed = _run_all(specs, jobs, threads, reuse, log)
    summary = summarize(results, [e.name for e in encoders], tasks)
    out = dict(
        summary=summary,
        runs=results,
        failed=failed,
        table=format_table(summary, failed),
        seeds=list(seeds),
        data_root=osp.abspath(data_root))
    write_json(osp.join(work_dir, 'summary.json'), out)
    return out


def clear_stale_run(spec: Dict) -> bool:
    """Empty a run folder left by another spec (other iterations, encoder or data), so that
    ``resume`` never continues a checkpoint of a different run. Returns True if it did."""
    try:
        with open(osp.join(spec['work_dir'], SPEC_FILE), encoding='utf-8') as f:
            old = json.load(f)
    except (OSError, ValueError):
        return False
    if all(old.get(k) == v for k, v in spec.items() if k != 'threads'):
        return False
    shutil.rmtree(spec['work_dir'])
    return True


def _label(spec: Dict) -> str:
    return f'{spec["task"]} {spec["encoder"]["name"]} seed {spec["seed"]}'


def _run_all(specs: List[Dict], jobs: int, threads: int, reuse: bool, log):
    pending, results, failed = [], [], []
    for spec in specs:
        done = reusable_result(spec['work_dir'], spec) if reuse else None
        if done is not None:
            log(f'[transfer] {_label(spec)}: reusing {spec["work_dir"]}')
            results.append(done)
        else:
            pending.append(spec)
    env = subprocess_env(threads)
    running = []
    while pending or running:
        while pending and len(running) < jobs:
            spec = pending.pop(0)
            if clear_stale_run(spec):
                log(f'[transfer] {_label(spec)}: {spec["work_dir"]} held another run; cleared')
            os.makedirs(spec['work_dir'], exist_ok=True)
            spec_path = osp.join(spec['work_dir'], SPEC_FILE)
            write_json(spec_path, spec)
            log_path = osp.join(spec['work_dir'], 'train.log')
            log_file = open(log_path, 'a', encoding='utf-8')
            code = ('from mmamt.analysis.transfer import run_from_file; '
                    f'run_from_file({spec_path!r})')
            proc = subprocess.Popen([sys.executable, '-c', code],
                                    stdout=log_file,
                                    stderr=subprocess.STDOUT,
                                    env=env)
            iters = spec['max_iters'] or 'the config\'s'
            log(f'[transfer] {_label(spec)}: fine-tuning {iters} iterations (log: {log_path})')
            running.append((proc, spec, log_file, log_path, time.perf_counter()))
        time.sleep(0.5)
        for item in list(running):
            proc, spec, log_file, log_path, started = item
            if proc.poll() is None:
                continue
            running.remove(item)
            log_file.close()
            seconds = time.perf_counter() - started
            if proc.returncode != 0 or not osp.isfile(osp.join(spec['work_dir'], RESULT_FILE)):
                failed.append(
                    dict(
                        task=spec['task'],
                        encoder=spec['encoder']['name'],
                        seed=spec['seed'],
                        returncode=proc.returncode,
                        log=log_path))
                log(f'[transfer] {_label(spec)}: FAILED (exit {proc.returncode}) after '
                    f'{seconds:.0f}s; see {log_path}')
                continue
            with open(osp.join(spec['work_dir'], RESULT_FILE), encoding='utf-8') as f:
                result = json.load(f)
            results.append(result)
            shown = ', '.join(f'{k} {v:.1f}' for k, v in result['metrics'].items())
            log(f'[transfer] {_label(spec)}: done in {seconds:.0f}s: {shown}')
    return results, failed


def summarize(results: Sequence[Dict], encoders: Sequence[str], tasks: Sequence[str]) -> Dict:
    """Per encoder and task: each metric's :func:`~mmamt.analysis.report.mean_spread` over
    seeds, and the mean seconds (train + test) of a run."""
    summary: Dict[str, Dict] = {}
    for name in encoders:
        summary[name] = {}
        for task in tasks:
            runs = [r for r in results if r['encoder']['name'] == name and r['task'] == task]
            if not runs:
                continue
            runs.sort(key=lambda r: r['seed'])
            entry = dict(
                seeds=[r['seed'] for r in runs],
                seconds=float(np.mean([r['train_seconds'] + r['test_seconds'] for r in runs])))
            for key in METRICS[task]:
                entry[key] = mean_spread([r['metrics'][key] for r in runs])
            summary[name][task] = entry
    return summary


def format_table(summary: Dict, failed: Sequence[Dict] = ()) -> str:
    """Markdown: one row per encoder, bbox AP, mask AP, mIoU (mean ± std, seeds), seconds."""
    head = ('| encoder | bbox AP | mask AP | mIoU | seeds (det / seg) | s per run (det / seg) |\n'
            '| --- | --- | --- | --- | --- | --- |')
    rows = []
    for name, tasks in summary.items():
        cells = []
        for task, key in COLUMNS:
            entry = tasks.get(task)
            bad = [f for f in failed if f['encoder'] == name and f['task'] == task]
            text = (f'{entry[key]["mean"]:.1f} ± {entry[key]["std"]:.1f}' if entry else '-')
            if bad:
                text += ' (failed: ' + ', '.join(f'seed {f["seed"]}' for f in bad) + ')'
            cells.append(text)
        seeds = ' / '.join(
            str(len(tasks[t]['seeds'])) if t in tasks else '0' for t in ('det', 'seg'))
        secs = ' / '.join(f'{tasks[t]["seconds"]:.0f}' if t in tasks else '-'
                          for t in ('det', 'seg'))
        rows.append(f'| {name} | ' + ' | '.join(cells) + f' | {seeds} | {secs} |')
    lines = [head, *rows]
    for f in failed:
        lines.append(f'\nFailed: {f["task"]} {f["encoder"]} seed {f["seed"]} (exit '
                     f'{f["returncode"]}), log {f["log"]}')
    return '\n'.join(lines)
