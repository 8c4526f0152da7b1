"""Quick linear probe of a pre-trained encoder on a class-folder data set (no training run).

Frozen encoder, deterministic view, standardised [CLS] and mean-patch features, logistic
regression fit on the train split and scored on the val split (mmamt.analysis.probe). The full
protocol (LARS, 90 epochs) is in configs/benchmarks/mmpretrain/.

    python tools/analysis_tools/feature_probe.py CONFIG [CHECKPOINT] \
        --data-root data/synthetic/imagenet
"""
import argparse

from mmamt.analysis import probe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='omit for a randomly initialised encoder')
    parser.add_argument('--data-root', default='data/synthetic/imagenet')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random initialisation')
    args = parser.parse_args()
    result = probe(args.config, args.checkpoint, args.data_root, seed=args.seed)
    print(f"linear probe top-1: [CLS] {result['top1']['cls']:.1f}%, mean-patch "
          f"{result['top1']['mean']:.1f}% (majority class {result['majority_baseline']:.1f}%, "
          f"{result['num_train']} train / {result['num_val']} val images)")


if __name__ == '__main__':
    main()
