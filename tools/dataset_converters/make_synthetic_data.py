"""Write the synthetic shapes data set for demos and tests, optionally in every real layout.

Examples:
    # ImageNet, COCO and ADE20K layouts of the synthetic set (what the demo configs read)
    python tools/dataset_converters/make_synthetic_data.py data/synthetic --num-train 48
    # OUT plays data/: OUT/synthetic plus OUT/{imagenet,cifar10,cifar100,stl10,tiny-imagenet,
    # coco,ade} laid out as the configs under configs/ expect the real data sets
    python tools/dataset_converters/make_synthetic_data.py data --layouts --num-train 4

The layouts and label conventions are documented in :mod:`mmamt.testing.synthetic` and
:mod:`mmamt.testing.data_layouts`.
"""
import argparse
import sys
from typing import List, Optional

from mmamt.testing import SYNTHETIC_CLASSES, make_dataset_layouts, make_synthetic_dataset


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate the mmamt synthetic shapes data set '
                                     '(ImageNet class folders, COCO instances, ADE20K label maps)')
    parser.add_argument('out_dir', help='output root, e.g. data/synthetic (data with --layouts)')
    parser.add_argument(
        '--layouts',
        action='store_true',
        help='treat OUT_DIR as data/: write OUT_DIR/synthetic and the layouts '
        'of ImageNet, CIFAR-10/100, STL-10, Tiny ImageNet, COCO and ADE20K')
    parser.add_argument('--num-train', type=int, default=48, help='training images (>= 1)')
    parser.add_argument('--num-val', type=int, default=16, help='validation images (>= 1)')
    parser.add_argument(
        '--image-size', type=int, default=64, help='image side in pixels (32..4096)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument('--min-objects', type=int, default=1, help='fewest shapes per image')
    parser.add_argument('--max-objects', type=int, default=3, help='most shapes per image')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    make = make_dataset_layouts if args.layouts else make_synthetic_dataset
    try:
        paths = make(
            args.out_dir,
            num_train=args.num_train,
            num_val=args.num_val,
            image_size=args.image_size,
            seed=args.seed,
            min_objects=args.min_objects,
            max_objects=args.max_objects)
    except (TypeError, ValueError, FileExistsError) as e:
        # Bad arguments are the user's to fix: a one-line message beats a traceback.
        sys.exit(f'make_synthetic_data.py: error: {e}')
    where = (f'{paths["data_dir"]} (synthetic/ and imagenet/, cifar10/, cifar100/, stl10/, '
             'tiny-imagenet/, coco/, ade/)'
             if args.layouts else f'{paths["root"]} (imagenet/, coco/, ade/)')
    print(f'synthetic data set: {args.num_train} train + {args.num_val} val images of '
          f'{args.image_size}x{args.image_size}, {len(SYNTHETIC_CLASSES)} classes, seed '
          f'{args.seed}, in {where}')
    return paths


if __name__ == '__main__':
    main()
