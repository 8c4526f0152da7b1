"""Write scikit-learn's bundled handwritten digits as an ImageNet-style folder tree.

1,797 real 8x8 digit scans (no download: they ship inside scikit-learn), each drawn as a digit in
a random colour over label-free colour noise, split 2/3 train / 1/3 val per class with a fixed
seed, with a digit mask per image for the attention report (see :mod:`mmamt.analysis.digits`).
Needs scikit-learn: ``pip install -r requirements/benchmark.txt``.

Example (what the digits configs under configs/demo/ read):
    python tools/dataset_converters/digits_to_folders.py data/digits
"""
import argparse
import sys
from typing import List, Optional

from mmamt.analysis.digits import make_digits_dataset


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output root, e.g. data/digits')
    parser.add_argument('--image-size', type=int, default=64, help='image side (16..1024)')
    parser.add_argument(
        '--val-fraction',
        type=float,
        default=1 / 3,
        help='share of each class kept for validation, in (0, 1)')
    parser.add_argument('--seed', type=int, default=0, help='split, colours and noise (>= 0)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    try:
        meta = make_digits_dataset(args.out_dir, args.image_size, args.val_fraction, args.seed)
    except (ValueError, FileExistsError, ImportError) as e:
        sys.exit(f'digits_to_folders.py: error: {e}')
    print(f'handwritten digits: {meta["num_train"]} train + {meta["num_val"]} val images of '
          f'{meta["image_size"]}x{meta["image_size"]}, 10 classes, seed {meta["seed"]}, in '
          f'{meta["root"]} (train/, val/, masks/)')
    return meta


if __name__ == '__main__':
    main()
