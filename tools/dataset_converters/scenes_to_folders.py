"""Write a scenes set (the scenes-a layout) as class folders for pre-training and probing.

Each image goes to ``OUT/<split>/<class>/`` by its image-level label (``meta/<split>.txt``: the
class of its largest visible object), with its object mask under ``OUT/masks/`` for the harness's
attention report; see :mod:`mmamt.analysis.scenes`. The detection and segmentation configs read
the scenes layout itself.

Example (pre-train on scenes-a with the harness, then compare transfer):
    python tools/dataset_converters/scenes_to_folders.py ../shared/data/scenes-a data/scenes-a-cls
"""
import argparse
import sys
from typing import List, Optional

from mmamt.analysis.scenes import scenes_to_folders


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('scenes_root', help='the scenes layout (classes.txt, images/, meta/, ...)')
    parser.add_argument('out_dir', help='output root of the class folders')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    try:
        meta = scenes_to_folders(args.scenes_root, args.out_dir)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        sys.exit(f'scenes_to_folders.py: error: {e}')
    print(f'scenes: {meta["num_train"]} train + {meta["num_val"]} val images, '
          f'{len(meta["classes"])} classes, in {meta["root"]} (train/, val/, masks/)')
    return meta


if __name__ == '__main__':
    main()
