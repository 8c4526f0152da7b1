"""Write the synthetic shapes data set (ImageNet, COCO and ADE20K layouts) for demos and tests.

Example:
    python tools/dataset_converters/make_synthetic_data.py data/synthetic --num-train 48

The layout and label conventions are documented in :mod:`mmamt.datasets.synthetic`.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

try:
    from mmamt.datasets.synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset
except ImportError:
    # Run from a source checkout without ``pip install -e .``: the repo root is two levels up.
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
    from mmamt.datasets.synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the mmamt synthetic shapes data set '
        '(ImageNet class folders, COCO instances, ADE20K label maps)')
    parser.add_argument('out_dir', help='output root, e.g. data/synthetic')
    parser.add_argument('--num-train', type=int, default=48, help='training images (>= 1)')
    parser.add_argument('--num-val', type=int, default=16, help='validation images (>= 1)')
    parser.add_argument(
        '--image-size', type=int, default=64, help='image side in pixels (32..4096)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    try:
        paths = make_synthetic_dataset(
            args.out_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            image_size=args.image_size,
            seed=args.seed)
    except (TypeError, ValueError, FileExistsError) as e:
        # Bad arguments are the user's to fix: a one-line message beats a traceback.
        sys.exit(f'make_synthetic_data.py: error: {e}')
    print(f'synthetic data set in {paths["root"]}: {args.num_train} train + {args.num_val} val '
          f'images of {args.image_size}x{args.image_size}, {len(SYNTHETIC_CLASSES)} classes, '
          f'seed {args.seed} (imagenet/, coco/, ade/)')
    return paths


if __name__ == '__main__':
    main()
