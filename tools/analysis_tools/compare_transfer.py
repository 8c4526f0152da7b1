"""Fine-tune pre-trained encoders for detection and segmentation side by side, with a random floor.

Every encoder (``--encoder NAME=CHECKPOINT``, or every variant of a pre-training comparison with
``--from-harness WORK_DIR``) is converted strictly for mmdet and mmseg, fine-tuned with the
scenes configs (Mask R-CNN: bbox and mask AP; UperNet: mIoU) for each seed and tested; a random
initialisation (``random``) is the floor unless ``--no-random``. Finished runs are reused, an
interrupted run resumes from its last checkpoint, a failed run is named in the table and never
given a number. See :mod:`mmamt.analysis.transfer` and docs/transfer.md.

Example (the comparison of docs/transfer.md, after the pre-training runs there):
    python tools/analysis_tools/compare_transfer.py data/scenes-a \\
        --from-harness work_dirs/scenes_120e --seeds 0 1 --jobs 2 --work-dir work_dirs/transfer
"""
import argparse
import sys
from typing import List, Optional

from mmamt.analysis.transfer import (RANDOM, TASKS, Encoder, encoders_from_harness, parse_encoder,
                                     run_transfer)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='the scenes layout (../shared/data/scenes-a/README.md)')
    parser.add_argument(
        '--encoder',
        action='append',
        default=[],
        metavar='NAME=CHECKPOINT',
        help='a pre-training checkpoint to fine-tune (repeat for several)')
    parser.add_argument(
        '--from-harness',
        metavar='WORK_DIR',
        help='every finished variant of a compare_pretrain.py work dir, at --pretrain-seed')
    parser.add_argument('--pretrain-seed', type=int, default=0, help='with --from-harness')
    parser.add_argument('--no-random', action='store_true', help='leave out the random floor')
    parser.add_argument('--tasks', nargs='+', default=sorted(TASKS), help='det and/or seg')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1], help='fine-tune seeds')
    parser.add_argument(
        '--iters', type=int, help="fine-tune iterations of every run (default: the config's)")
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time')
    parser.add_argument('--threads', type=int, default=1, help='torch threads per run')
    parser.add_argument('--work-dir', default='work_dirs/transfer')
    parser.add_argument('--no-reuse', action='store_true', help='retrain finished runs')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    try:
        encoders = [parse_encoder(e) for e in args.encoder]
        if args.from_harness:
            encoders += encoders_from_harness(args.from_harness, args.pretrain_seed)
        if not args.no_random:
            encoders.append(Encoder(RANDOM, None))
        out = run_transfer(
            encoders,
            args.data_root,
            args.work_dir,
            tasks=args.tasks,
            seeds=args.seeds,
            jobs=args.jobs,
            threads=args.threads,
            max_iters={t: args.iters
                       for t in args.tasks} if args.iters else None,
            reuse=not args.no_reuse)
    except (ValueError, RuntimeError) as e:
        sys.exit(f'compare_transfer.py: error: {e}')
    print('\n' + out['table'])
    print(f'\nsummary: {args.work_dir}/summary.json')
    return out


if __name__ == '__main__':
    main()
