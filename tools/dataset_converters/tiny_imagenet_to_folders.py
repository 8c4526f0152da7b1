"""Rearrange Tiny ImageNet into the class-folder layout mmamt's configs read.

    python tools/dataset_converters/tiny_imagenet_to_folders.py SRC OUT [--copy]

SRC is the extracted ``tiny-imagenet-200`` folder (``wnids.txt``,
``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with ``val/val_annotations.txt``). OUT
gets ``train/<wnid>/*.JPEG`` and ``val/<wnid>/*.JPEG`` (the validation images sorted into their
classes), as hard links where the file system allows (``--copy`` to copy). Pre-training reads
``OUT/train`` without labels; the benchmarks read both splits with labels.
"""
import argparse
import os
import os.path as osp
import shutil
from typing import Dict, Optional, Sequence


def _place(src: str, dst: str, copy: bool) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    if osp.exists(dst):
        return
    if not copy:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # another device: fall back to copying
    shutil.copy2(src, dst)


def convert(src: str, out: str, copy: bool = False) -> Dict[str, int]:
    """Build ``OUT/{train,val}/<wnid>/``; return the image count per split."""
    wnids_file = osp.join(src, 'wnids.txt')
    if not osp.isfile(wnids_file):
        raise FileNotFoundError(f'{wnids_file} not found: SRC must be tiny-imagenet-200')
    with open(wnids_file) as f:
        wnids = [line.strip() for line in f if line.strip()]
    counts = dict(train=0, val=0)
    for wnid in wnids:
        folder = osp.join(src, 'train', wnid, 'images')
        for name in sorted(os.listdir(folder)):
            _place(osp.join(folder, name), osp.join(out, 'train', wnid, name), copy)
            counts['train'] += 1
    with open(osp.join(src, 'val', 'val_annotations.txt')) as f:
        for line in f:
            fields = line.split('\t')
            if len(fields) < 2:
                continue
            name, wnid = fields[0], fields[1]
            if wnid not in wnids:
                raise ValueError(f'val_annotations.txt: {name} has unknown class {wnid}')
            _place(osp.join(src, 'val', 'images', name), osp.join(out, 'val', wnid, name), copy)
            counts['val'] += 1
    return counts


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, int]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='the extracted tiny-imagenet-200 folder')
    parser.add_argument('out', help='output root, e.g. data/tiny-imagenet')
    parser.add_argument('--copy', action='store_true', help='copy instead of hard-linking')
    args = parser.parse_args(argv)
    counts = convert(args.src, args.out, args.copy)
    print(f'Tiny ImageNet -> {args.out}: train {counts["train"]}, val {counts["val"]}')
    return counts


if __name__ == '__main__':
    main()
