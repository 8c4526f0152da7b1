"""Unpack the STL-10 binary release into the class-folder layout mmamt's configs read.

    python tools/dataset_converters/stl10_to_folders.py SRC OUT [--skip-unlabeled]

SRC is the extracted ``stl10_binary`` folder (``train_X.bin``, ``train_y.bin``, ``test_X.bin``,
``test_y.bin``, ``unlabeled_X.bin``, ``class_names.txt``). OUT gets::

    OUT/train/<class>/<index>.png      5,000 labelled training images
    OUT/test/<class>/<index>.png       8,000 test images
    OUT/unlabeled/<index>.png          100,000 unlabelled images (unless --skip-unlabeled)
    OUT/meta/pretrain.txt              train + unlabeled paths, one a line (pre-training)

The pre-training configs (``configs/*/..._stl10.py``) read ``meta/pretrain.txt``; the benchmark
configs read ``train/`` and ``test/``. Images are 96x96 RGB, stored column-major in the binaries.
"""
import argparse
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
from PIL import Image

from mmamt.utils.io import atomic_write_bytes

SIZE = 96
IMAGE_BYTES = 3 * SIZE * SIZE


def read_images(path: str, chunk: int = 1000) -> Iterator[np.ndarray]:
    """Yield ``(n, 96, 96, 3)`` uint8 RGB batches from an STL-10 ``*_X.bin`` file."""
    total = osp.getsize(path)
    if total % IMAGE_BYTES:
        raise ValueError(f'{path}: {total} bytes is not a whole number of 96x96x3 images')
    with open(path, 'rb') as f:
        while True:
            raw = f.read(IMAGE_BYTES * chunk)
            if not raw:
                return
            # stored as (n, channel, column, row)
            yield np.frombuffer(raw, np.uint8).reshape(-1, 3, SIZE, SIZE).transpose(0, 3, 2, 1)


def read_labels(path: str) -> np.ndarray:
    """0-based labels from an STL-10 ``*_y.bin`` file (stored 1-based)."""
    labels = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f'{path}: labels must be 1..10')
    return labels


def _write_list(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    atomic_write_bytes(''.join(f'{line}\n' for line in lines).encode('utf-8'), path)


def convert(src: str, out: str, skip_unlabeled: bool = False) -> Dict[str, int]:
    """Write the class-folder tree and ``meta/pretrain.txt``; return image counts per split."""
    names_file = osp.join(src, 'class_names.txt')
    if not osp.isfile(names_file):
        raise FileNotFoundError(f'{names_file} not found: SRC must be the stl10_binary folder')
    with open(names_file) as f:
        classes = [line.strip() for line in f if line.strip()]
    counts: Dict[str, int] = {}
    pretrain: List[str] = []
    for split in ('train', 'test'):
        labels = read_labels(osp.join(src, f'{split}_y.bin'))
        index = 0
        for batch in read_images(osp.join(src, f'{split}_X.bin')):
            for img in batch:
                rel = f'{split}/{classes[labels[index]]}/{index:06d}.png'
                os.makedirs(osp.join(out, osp.dirname(rel)), exist_ok=True)
                Image.fromarray(img).save(osp.join(out, rel))
                if split == 'train':
                    pretrain.append(rel)
                index += 1
        if index != len(labels):
            raise ValueError(f'{split}: {index} images but {len(labels)} labels')
        counts[split] = index
    unlabeled = osp.join(src, 'unlabeled_X.bin')
    counts['unlabeled'] = 0
    if not skip_unlabeled and osp.isfile(unlabeled):
        os.makedirs(osp.join(out, 'unlabeled'), exist_ok=True)
        for batch in read_images(unlabeled):
            for img in batch:
                rel = f'unlabeled/{counts["unlabeled"]:06d}.png'
                Image.fromarray(img).save(osp.join(out, rel))
                pretrain.append(rel)
                counts['unlabeled'] += 1
    _write_list(osp.join(out, 'meta', 'pretrain.txt'), pretrain)
    return counts


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the extracted stl10_binary folder')
    parser.add_argument('out', help='output root, e.g. data/stl10')
    parser.add_argument(
        '--skip-unlabeled', action='store_true', help='leave out the 100,000 unlabelled images')
    args = parser.parse_args(argv)
    counts = convert(args.src, args.out, args.skip_unlabeled)
    print(f'STL-10 -> {args.out}: ' + ', '.join(f'{k} {v}' for k, v in counts.items()))
    return counts


if __name__ == '__main__':
    main()
