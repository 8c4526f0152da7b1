"""Time the training step of a pre-training config against a baseline config.

Model, data preprocessor and mask ratios come from the configs (``--cfg-options`` applies to
both). For every batch size, precision and compile mode asked for, both steps
(``model.train_step``: data preprocessor, forward, backward, AdamW) run in this one process,
interleaved round-robin, and the tool reports step time, img/s, peak memory and the paired
speedup, naming the device.

    # ViT-B/16 on a shared CPU, one thread, CPU time (docs/benchmarks.md)
    python tools/analysis_tools/benchmark_pretrain.py \
        configs/mae_amt/mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py \
        --baseline configs/mae_amt/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py \
        --batch-size 8 --device cpu --threads 1 --timer cpu --warmup 1 --reps 5
    # a GPU: batch 128 and the config's 512, eager and compiled, bf16 and fp16
    python tools/analysis_tools/benchmark_pretrain.py CONFIG --baseline BASELINE \
        --batch-size 128 512 --precision bf16 fp16 --compile off on --device cuda
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.config import DictAction

from mmamt.analysis import (PeakMemory, StepBench, load_config, machine_info, paired_speedup,
                            round_robin)
from mmamt.utils import atomic_write_bytes


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pre-training config measured')
    parser.add_argument('--baseline', help='the config compared with (e.g. plain MAE)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override settings of both configs, key=value')
    parser.add_argument(
        '--batch-size',
        type=int,
        nargs='+',
        default=None,
        help='images per step (default: the config\'s per-GPU batch)')
    parser.add_argument(
        '--precision',
        nargs='+',
        default=['fp32'],
        choices=['fp32', 'fp16', 'bf16'],
        help='fp16/bf16: mmengine AMP (CUDA)')
    parser.add_argument(
        '--compile',
        nargs='+',
        default=['off'],
        choices=['off', 'on'],
        help='torch.compile the train step as mmengine compile=True does')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--warmup', type=int, default=3, help='untimed repetitions')
    parser.add_argument('--reps', type=int, default=10, help='timed repetitions')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument(
        '--timer',
        choices=['wall', 'cpu'],
        default='wall',
        help='cpu: process CPU time (with --threads 1, immune to other jobs)')
    parser.add_argument('--json', default=None, help='write the results here')
    return parser.parse_args(argv)


def measure(cfgs: Dict, batch_size: int, precision: str, compiled: bool, args) -> Dict:
    """One setting: every config's step timed round-robin, then one memory-probed step each."""
    benches = {
        name: StepBench(cfg, batch_size, args.device, precision, compiled)
        for name, cfg in cfgs.items()
    }
    times, walls = round_robin({
        n: b.step
        for n, b in benches.items()
    }, args.warmup, args.reps, args.device, args.timer)
    mem = PeakMemory(args.device)
    out = {}
    for name, bench in benches.items():
        mem.start()
        bench.step()
        transient = mem.stop()
        step = sorted(times[name])[len(times[name]) // 2]
        out[name] = dict(
            config=cfgs[name].filename,
            step_time_s=step,
            step_times_s=times[name],
            wall_times_s=walls[name],
            img_per_s=batch_size / step,
            peak_mem_mb=(bench.state_bytes() + transient) / 2**20,
            transient_mem_mb=transient / 2**20,
            tokens=bench.counts)
    if 'baseline' in out:
        out['config']['speedup_vs_baseline'] = paired_speedup(times['baseline'], times['config'])
    return dict(
        batch_size=batch_size,
        precision=precision,
        compile=compiled,
        memory=mem.method,
        results=out)


def markdown(results: Dict) -> str:
    m = results['machine']
    lines = [
        f"device: {m['device_name']} | torch {m['torch']}, {m['torch_threads']} threads, "
        f"timer {results['timer']}, {results['reps']} reps",
        '| batch | precision | compile | config | tokens vis/mask/throw | step (ms) | img/s '
        '| peak mem (MB) | speedup |', '|---|---|---|---|---|---|---|---|---|'
    ]
    for run in results['runs']:
        for name, r in run['results'].items():
            t = r['tokens']
            speed = f"{r['speedup_vs_baseline']:.2f}x" if 'speedup_vs_baseline' in r else '1.00x'
            lines.append(f"| {run['batch_size']} | {run['precision']} | {run['compile']} | "
                         f"{osp.basename(r['config'])} | {t['visible']}/{t['masked']}/"
                         f"{t['thrown']} | {1e3 * r['step_time_s']:.1f} | {r['img_per_s']:.1f} "
                         f"| {r['peak_mem_mb']:.0f} | {speed} |")
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfgs = {'config': load_config(args.config, args.cfg_options)}
    if args.baseline:
        cfgs['baseline'] = load_config(args.baseline, args.cfg_options)
    batch_sizes = args.batch_size or [cfgs['config'].train_dataloader.batch_size]
    results = dict(
        machine=machine_info(args.device),
        timer=args.timer,
        warmup=args.warmup,
        reps=args.reps,
        runs=[])
    for batch_size in batch_sizes:
        for precision in args.precision:
            for mode in args.compile:
                results['runs'].append(measure(cfgs, batch_size, precision, mode == 'on', args))
    results['machine']['loadavg_end'] = list(os.getloadavg())
    print(markdown(results))
    if args.json:
        atomic_write_bytes(json.dumps(results, indent=2).encode(), args.json)
        print(f'results written to {args.json}')
    return results


if __name__ == '__main__':
    main()
