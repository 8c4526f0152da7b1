"""A scenes set (``scenes-a`` layout) as class folders, for pre-training and probing on it.

The scenes layout (``../shared/data/scenes-a/README.md``; :func:`mmamt.testing.data_layouts.
make_scenes_layout` writes a synthetic one) serves mmdet, mmseg and mmpretrain from one copy of
each image::

    SCENES/classes.txt                       one class name per line
    SCENES/images/{train,val}/<stem>.jpg
    SCENES/annotations/instances_{train,val}.json   COCO instances
    SCENES/masks/{train,val}/<stem>.png      semantic labels: 0 background, k + 1 class k
    SCENES/meta/{train,val}.txt              "<stem>.jpg <k>": the largest visible object's class

The comparison harness pre-trains and probes on class folders. :func:`scenes_to_folders`
writes them from ``meta/*.txt`` (the image-level label) and, beside them, the object masks of
the attention report (255 where any object is), as the digits converter does::

    OUT/{train,val}/<class>/<stem>.png
    OUT/masks/{train,val}/<class>/<stem>.png
    OUT/scenes.json                          where it came from (read back to reuse it)

Images are stored as PNG (the decoded JPEG, losslessly) because the attention report finds a
mask by the image's own file name.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from mmamt.utils.io import atomic_write_bytes
from .digits import png_bytes

META_FILE = 'scenes.json'
SPLITS = ('train', 'val')
FORMAT = 1


def read_classes(scenes_root: str) -> Tuple[str, ...]:
    """The class names of ``scenes_root/classes.txt``, in label order.

    Raises:
        FileNotFoundError: If the file is missing or lists no class.
    """
    path = osp.join(scenes_root, 'classes.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(f'scenes root {scenes_root!r} has no classes.txt (the scenes '
                                'layout: classes.txt, images/, annotations/, masks/, meta/)')
    with open(path, encoding='utf-8') as f:
        classes = tuple(line.strip() for line in f if line.strip())
    if not classes:
        raise FileNotFoundError(f'{path} lists no class')
    return classes


def read_meta(scenes_root: str, split: str, num_classes: int) -> List[Tuple[str, int]]:
    """``(file name, label)`` of every image in ``meta/<split>.txt``.

    Raises:
        FileNotFoundError: If the file, or an image it names, is missing.
        ValueError: If a line is not ``<name> <label>`` with ``0 <= label < num_classes``.
    """
    path = osp.join(scenes_root, 'meta', f'{split}.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(f'scenes root {scenes_root!r} has no meta/{split}.txt')
    items = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= num_classes:
                raise ValueError(f'{path}:{number}: expected "<image> <label>" with a label in '
                                 f'[0, {num_classes - 1}], got {line.strip()!r}')
            image = osp.join(scenes_root, 'images', split, parts[0])
            if not osp.isfile(image):
                raise FileNotFoundError(f'{path}:{number}: no image {image}')
            items.append((parts[0], int(parts[1])))
    if not items:
        raise ValueError(f'{path} lists no image')
    return items


def _is_complete(out_dir: str, expected: Dict) -> bool:
    try:
        with open(osp.join(out_dir, META_FILE), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return meta.get('complete') is True and meta.get('source') == expected


def scenes_to_folders(scenes_root: str, out_dir: str) -> Dict:
    """Write the scenes set's images as class folders with object masks (module docstring).

    A folder already made from the same scenes (the same classes and image lists) is reused;
    one made by something else is refused rather than mixed with.

    Args:
        scenes_root (str): The scenes layout.
        out_dir (str): Where the class folders go (created).

    Returns:
        dict: ``root``, ``classes``, ``num_train``, ``num_val``, ``source``.

    Raises:
        FileNotFoundError, ValueError: A scenes layout that is incomplete or malformed.
        FileExistsError: If ``out_dir`` holds files that this function did not write.
    """
    scenes_root, out_dir = osp.abspath(scenes_root), osp.abspath(out_dir)
    classes = read_classes(scenes_root)
    items = {split: read_meta(scenes_root, split, len(classes)) for split in SPLITS}
    source = dict(
        scenes_root=scenes_root,
        classes=list(classes),
        images={split: [name for name, _ in items[split]]
                for split in SPLITS},
        format=FORMAT)
    result = dict(
        root=out_dir,
        classes=list(classes),
        num_train=len(items['train']),
        num_val=len(items['val']),
        source=source)
    if _is_complete(out_dir, source):
        return result
    if osp.isdir(out_dir) and os.listdir(out_dir) and not osp.isfile(osp.join(out_dir, META_FILE)):
        raise FileExistsError(f'{out_dir} is not empty and was not written by scenes_to_folders '
                              f'(no {META_FILE}): give a new or empty folder')
    for part in (*SPLITS, 'masks'):
        shutil.rmtree(osp.join(out_dir, part), ignore_errors=True)
    os.makedirs(out_dir, exist_ok=True)
    meta_path = osp.join(out_dir, META_FILE)
    atomic_write_bytes(json.dumps(dict(source=source, complete=False)).encode('utf-8'), meta_path)
    for split in SPLITS:
        for name in classes:  # every class folder, also an empty one: the labels keep their order
            os.makedirs(osp.join(out_dir, split, name), exist_ok=True)
            os.makedirs(osp.join(out_dir, 'masks', split, name), exist_ok=True)
        for file_name, label in items[split]:
            stem = osp.splitext(file_name)[0]
            image = Image.open(osp.join(scenes_root, 'images', split, file_name)).convert('RGB')
            atomic_write_bytes(
                png_bytes(np.asarray(image)), osp.join(out_dir, split, classes[label],
                                                       f'{stem}.png'))
            seg_path = osp.join(scenes_root, 'masks', split, f'{stem}.png')
            if not osp.isfile(seg_path):
                raise FileNotFoundError(f'no semantic mask {seg_path} for {file_name}')
            objects = (np.asarray(Image.open(seg_path)) > 0).astype(np.uint8) * 255
            atomic_write_bytes(
                png_bytes(objects), osp.join(out_dir, 'masks', split, classes[label],
                                             f'{stem}.png'))
    atomic_write_bytes(
        json.dumps(dict(source=source, complete=True), indent=1).encode('utf-8'), meta_path)
    return result
