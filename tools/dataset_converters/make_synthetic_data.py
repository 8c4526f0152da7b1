"""Write the synthetic shapes data set for demos and tests, optionally in every real layout.

Examples:
    # the digits variant: label = the one digit, drawn over small distractor shapes
    python tools/dataset_converters/make_synthetic_data.py data/synthetic_digits --kind digits
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

from mmamt.testing import make_dataset_layouts, make_synthetic_dataset
from mmamt.testing.synthetic import KINDS


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the mmamt synthetic shapes data set '
        '(ImageNet class folders, COCO instances, ADE20K label maps)')
    parser.add_argument('out_dir', help='output root, e.g. data/synthetic (data with --layouts)')
    parser.add_argument('--layouts', action='store_true',
                        help='treat OUT_DIR as data/: write OUT_DIR/synthetic and the layouts '
                        'of ImageNet, CIFAR-10/100, STL-10, Tiny ImageNet, COCO and ADE20K')
    parser.add_argument('--num-train', type=int, default=48, help='training images (>= 1)')
    parser.add_argument('--num-val', type=int, default=16, help='validation images (>= 1)')
    parser.add_argument(
        '--image-size', type=int, default=64, help='image side in pixels (32..4096)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (>= 0)')
    parser.add_argument('--min-objects', type=int, default=1, help='fewest shapes per image')
    parser.add_argument('--max-objects', type=int, default=3, help='most shapes per image')
    parser.add_argument('--kind', choices=sorted(KINDS), default='shapes',
                        help='shapes: label = shape of the largest object; digits: label = the '
                        'one digit, over min-1 to max-1 small distractor shapes')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    kwargs = dict(num_train=args.num_train, num_val=args.num_val, image_size=args.image_size,
                  seed=args.seed, min_objects=args.min_objects, max_objects=args.max_objects)
    if args.layouts and args.kind != 'shapes':
        sys.exit('make_synthetic_data.py: error: --layouts writes the shapes kind only')
    try:
        if args.layouts:
            paths = make_dataset_layouts(args.out_dir, **kwargs)
        else:
            paths = make_synthetic_dataset(args.out_dir, kind=args.kind, **kwargs)
    except (TypeError, ValueError, FileExistsError) as e:
        # Bad arguments are the user's to fix: a one-line message beats a traceback.
        sys.exit(f'make_synthetic_data.py: error: {e}')
    where = (f'{paths["data_dir"]} (synthetic/ and imagenet/, cifar10/, cifar100/, stl10/, '
             'tiny-imagenet/, coco/, ade/)' if args.layouts else
             f'{paths["root"]} (imagenet/, coco/, ade/)')
    print(f'synthetic data set: {args.num_train} train + {args.num_val} val images of '
          f'{args.image_size}x{args.image_size}, {len(KINDS[args.kind])} {args.kind} classes, seed '
          f'{args.seed}, in {where}')
    return paths


if __name__ == '__main__':
    main()
