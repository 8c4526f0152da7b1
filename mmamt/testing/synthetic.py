"""A small, deterministic synthetic data set in ImageNet, COCO and ADE20K layouts.

The generator draws textured shapes of five classes (:data:`SYNTHETIC_CLASSES`), one to a few per
image and often overlapping, on textured backgrounds (colour gradients plus smooth and fine noise),
and writes the *same* images in three layouts that the upstream loaders read unchanged
(mmpretrain ``CustomDataset`` / ``ImageNet``, mmdet ``CocoDataset``, mmseg ``BaseSegDataset`` /
``ADE20KDataset``)::

    OUT_DIR/
    ├── synthetic_manifest.json       arguments + completeness flag (reuse check)
    ├── imagenet/
    │   ├── train/<class>/<stem>.png  label = class of the largest visible object
    │   ├── val/<class>/<stem>.png
    │   └── meta/train.txt, meta/val.txt      lines "<class>/<stem>.png <label>"
    ├── coco/
    │   ├── train/<stem>.png, val/<stem>.png
    │   └── annotations/instances_train.json, annotations/instances_val.json
    └── ade/
        ├── images/training/<stem>.jpg, images/validation/<stem>.jpg
        └── annotations/training/<stem>.png, annotations/validation/<stem>.png

Label conventions:

- ImageNet label ``k`` (0..4) is ``SYNTHETIC_CLASSES[k]`` in the ``meta/*.txt`` files. The class
  folders are named after the classes, so a *folder scan* (``CustomDataset`` without ``ann_file``)
  numbers them alphabetically instead; use ``ann_file='meta/train.txt'`` to get the order above.
- COCO category id ``k + 1`` is class ``k``. Every annotation is one visible instance
  (``iscrowd=0``): ``segmentation`` is a compressed RLE of the pixels the instance still shows
  after later shapes were drawn over it, ``bbox`` (``[x, y, w, h]``) is the tight box of those
  pixels and ``area`` their count. A shape that would keep fewer than ``_MIN_VISIBLE_AREA`` pixels
  is not drawn at all, so images, boxes, masks and label maps always agree.
- ADE label PNGs (mode ``L``) hold 0 for background and ``k + 1`` for class ``k``, so
  ``reduce_zero_label=True`` gives labels 0..4 with the background ignored (255).

The classes of the largest objects go round-robin over the images of a split, so each class is
the ImageNet label of about ``1/5`` of the images. Every image has its own random stream derived
from ``(seed, split, index)``: the same arguments give byte-identical files, and a larger
``num_train`` keeps the first images unchanged.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from ..utils.io import atomic_write_bytes

SYNTHETIC_CLASSES = ('circle', 'square', 'triangle', 'ring', 'cross')

# Bump when the drawing or the layout changes, so that old data sets are regenerated.
_FORMAT_VERSION = 3  # 2: class-typical object colours; 3: random colour per object
_MANIFEST = 'synthetic_manifest.json'
# split -> (ImageNet / COCO folder name, ADE folder name, stream id for the RNG)
_SPLITS = {'train': ('train', 'training', 0), 'val': ('val', 'validation', 1)}
_MIN_VISIBLE_AREA = 12
_MAX_ATTEMPTS = 32
# Range of each RGB channel of an object's base colour (drawn uniformly, whatever the class).
_OBJECT_COLOUR_RANGE = (20.0, 235.0)
# Range of the brightness shift between the two colours of an object's texture.
_TEXTURE_CONTRAST = (50.0, 110.0)
_JPEG_QUALITY = 95
_TEXTURES = ('stripes', 'checker', 'noise')
# Half-extents of shapes, as fractions of the image size: the intended largest object is drawn
# from the first range, the others from the second.
_MAIN_RADIUS = (0.26, 0.36)
_OTHER_RADIUS = (0.12, 0.22)


def _check_int(name: str, value: int, low: int, high: int = None) -> None:
    """Raise a ``TypeError``/``ValueError`` that names ``name`` and its allowed range."""
    allowed = f'in [{low}, {high}]' if high is not None else f'>= {low}'
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f'`{name}` must be an int {allowed}, got {value!r}')
    if value < low or (high is not None and value > high):
        raise ValueError(f'`{name}` must be {allowed}, got {value}')


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int,
                  std: float) -> np.ndarray:
    """Gaussian noise on a ``cells x cells`` grid, bilinearly upsampled.

    Returns:
        np.ndarray: float32 array of shape ``(size, size, channels)``.
    """
    coarse = rng.normal(0.0, std, size=(cells, cells, channels)).astype(np.float32)
    out = np.empty((size, size, channels), dtype=np.float32)
    for c in range(channels):
        img = Image.fromarray(np.ascontiguousarray(coarse[..., c]))
        out[..., c] = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR))
    return out


def _background(rng: np.random.Generator, size: int, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A colour gradient in a random direction with smooth and fine noise on top.

    Returns:
        np.ndarray: float32 RGB array of shape ``(size, size, 3)`` in [0, 255].
    """
    c0, c1 = rng.uniform(0.0, 255.0, size=(2, 3)).astype(np.float32)
    phi = rng.uniform(0.0, 2 * np.pi)
    ramp = (xx * np.cos(phi) + yy * np.sin(phi)) / size
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    bg = c0 * (1.0 - ramp[..., None]) + c1 * ramp[..., None]
    bg += _smooth_noise(rng, size, int(rng.integers(3, 8)), 3, 22.0)
    bg += rng.normal(0.0, 6.0, size=bg.shape).astype(np.float32)
    return np.clip(bg, 0.0, 255.0)


def _texture(rng: np.random.Generator, size: int, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A texture pattern in [0, 1] over the whole image grid.

    Returns:
        np.ndarray: float32 array of shape ``(size, size)``.
    """
    kind = _TEXTURES[int(rng.integers(len(_TEXTURES)))]
    if kind == 'stripes':
        phi = rng.uniform(0.0, np.pi)
        period = rng.uniform(3.0, max(4.0, size / 8))
        phase = rng.uniform(0.0, 2 * np.pi)
        proj = xx * np.cos(phi) + yy * np.sin(phi)
        tex = 0.5 + 0.5 * np.sin(2 * np.pi * proj / period + phase)
    elif kind == 'checker':
        cell = rng.uniform(2.0, max(3.0, size / 10))
        ox, oy = rng.uniform(0.0, cell, size=2)
        tex = (np.floor((xx + ox) / cell) + np.floor((yy + oy) / cell)) % 2
    else:
        tex = rng.random((size, size))
    return tex.astype(np.float32)


def _shape_mask(cls: int, cx: float, cy: float, r: float, theta: float, xx: np.ndarray,
                yy: np.ndarray) -> np.ndarray:
    """Pixels (tested at their centres) covered by one shape of half-extent ``r``.

    Returns:
        np.ndarray: bool array of shape ``(H, W)``.
    """
    dx, dy = xx - cx, yy - cy
    # Coordinates in the shape's own rotated frame.
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    name = SYNTHETIC_CLASSES[cls]
    if name == 'circle':
        return dx * dx + dy * dy <= r * r
    if name == 'square':
        half = 0.75 * r
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if name == 'triangle':
        # Equilateral, circumradius r: inside all three half-planes at the inradius r / 2.
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            ang = 2 * np.pi * k / 3
            inside &= u * np.cos(ang) + v * np.sin(ang) <= 0.5 * r
        return inside
    if name == 'ring':
        d2 = dx * dx + dy * dy
        return (d2 <= r * r) & (d2 >= (0.5 * r)**2)
    # cross: two bars of half-width 0.3 r
    arm, width = 0.9 * r, 0.3 * r
    return (((np.abs(u) <= arm) & (np.abs(v) <= width))
            | ((np.abs(v) <= arm) & (np.abs(u) <= width)))


def _sample_object(rng: np.random.Generator, cls: int, radius: float, size: int, xx: np.ndarray,
                   yy: np.ndarray) -> Tuple[int, np.ndarray, np.ndarray]:
    """Place one textured, coloured shape of class ``cls`` at a random position.

    Returns:
        tuple: ``(cls, mask, rgb)`` with ``mask`` a bool ``(S, S)`` array and ``rgb`` the float32
        ``(S, S, 3)`` appearance of the shape (only read inside ``mask``).
    """
    cx, cy = rng.uniform(radius, size - radius, size=2)
    theta = rng.uniform(0.0, 2 * np.pi)
    mask = _shape_mask(cls, cx, cy, radius, theta, xx, yy)
    # A random colour per object, independent of the class: the label (the largest object's
    # shape) cannot be read off colour statistics, so a random encoder has no shortcut and a
    # linear probe measures what pre-training learnt. Objects still stand out from the
    # background by their texture and sharp edges.
    base = rng.uniform(*_OBJECT_COLOUR_RANGE, size=3).astype(np.float32)
    # The second texture colour is the base shifted up or down, so the pattern keeps its hue.
    shift = rng.uniform(*_TEXTURE_CONTRAST) * (1.0 if rng.random() < 0.5 else -1.0)
    second = np.clip(base + shift, 0.0, 255.0)
    tex = _texture(rng, size, xx, yy)[..., None]
    rgb = base * (1.0 - tex) + second * tex
    return cls, mask, rgb


def _compose(
    background: np.ndarray, objects: List[Tuple[int, np.ndarray, np.ndarray]]
) -> Tuple[np.ndarray, List[Tuple[int, np.ndarray]]]:
    """Paint ``objects`` back to front; drop those that would show too few pixels.

    Returns:
        tuple: the uint8 ``(S, S, 3)`` image and a list of ``(cls, visible_mask)`` in drawing
        order.
    """
    while True:
        owner = np.full(background.shape[:2], -1, dtype=np.int64)
        for j, (_, mask, _) in enumerate(objects):
            owner[mask] = j
        areas = np.bincount(owner[owner >= 0], minlength=len(objects))
        keep = areas >= _MIN_VISIBLE_AREA
        if keep.all():
            break
        # Removing a shape only uncovers pixels of the ones below it, so the rest stay visible.
        objects = [obj for obj, k in zip(objects, keep) if k]
    canvas = background.copy()
    for _, mask, rgb in objects:
        canvas[mask] = rgb[mask]
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return image, [(cls, owner == j) for j, (cls, _, _) in enumerate(objects)]


def _render_image(rng: np.random.Generator, size: int, target: int, min_objects: int,
                  max_objects: int) -> Tuple[np.ndarray, List[Tuple[int, np.ndarray]], int]:
    """Draw one image whose largest visible object has class ``target``.

    Random layouts are tried until the largest visible object is the intended one; if none is
    found, the last layout puts it on top and shrinks the others, which guarantees it.

    Returns:
        tuple: uint8 image ``(S, S, 3)``, the visible instances ``[(cls, mask (S, S))]`` and the
        image label (class of the largest visible instance).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    for attempt in range(_MAX_ATTEMPTS + 1):
        forced = attempt == _MAX_ATTEMPTS
        background = _background(rng, size, xx, yy)
        num = int(rng.integers(min_objects, max_objects + 1))
        main_r = size * rng.uniform(*_MAIN_RADIUS)
        depth = num - 1 if forced else int(rng.integers(num))
        objects = []
        for j in range(num):
            if j == depth:
                objects.append(_sample_object(rng, target, main_r, size, xx, yy))
                continue
            other_r = size * rng.uniform(*_OTHER_RADIUS)
            if forced:
                # A circle of 0.5 r (0.79 r^2) is smaller than the smallest main shape, the
                # triangle (1.3 r^2), with a margin for pixelation.
                other_r = min(other_r, 0.5 * main_r)
            cls = int(rng.integers(len(SYNTHETIC_CLASSES)))
            objects.append(_sample_object(rng, cls, other_r, size, xx, yy))
        image, instances = _compose(background, objects)
        if not instances:
            # Only possible if even the top shape pixelates below the minimum area.
            continue
        areas = [int(mask.sum()) for _, mask in instances]
        label = instances[int(np.argmax(areas))][0]
        if label == target:
            break
    return image, instances, label


def _encode_instance(mask: np.ndarray) -> Tuple[List[float], float, dict]:
    """COCO bbox ``[x, y, w, h]``, area and compressed RLE of a visible mask."""
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    bbox = [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return bbox, float(mask.sum()), rle


def _write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see half a file."""
    atomic_write_bytes(text.encode('utf-8'), path)


def _write_json(path: str, obj: dict) -> None:
    _write_atomic(path, json.dumps(obj, separators=(',', ':')) + '\n')


def _paths(out_dir: str) -> Dict[str, str]:
    root = osp.abspath(out_dir)
    paths = {
        'root': root,
        'imagenet': osp.join(root, 'imagenet'),
        'coco': osp.join(root, 'coco'),
        'ade': osp.join(root, 'ade'),
        'manifest': osp.join(root, _MANIFEST),
    }
    for split in _SPLITS:
        paths[f'imagenet_{split}_ann'] = osp.join(paths['imagenet'], 'meta', f'{split}.txt')
        paths[f'coco_{split}_ann'] = osp.join(paths['coco'], 'annotations',
                                              f'instances_{split}.json')
    return paths


def _count_files(folder: str, suffix: str, nested: bool = False) -> int:
    if not osp.isdir(folder):
        return 0
    if nested:
        return sum(_count_files(osp.join(folder, d), suffix) for d in os.listdir(folder))
    return sum(name.endswith(suffix) for name in os.listdir(folder))


def _is_complete(paths: Dict[str, str], args: dict) -> bool:
    """Whether ``paths['root']`` holds a finished data set made with exactly ``args``."""
    try:
        with open(paths['manifest'], encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    if not manifest.get('complete') or manifest.get('args') != args:
        return False
    for split, (folder, ade_folder, _) in _SPLITS.items():
        num = args[f'num_{split}']
        counts = (
            _count_files(osp.join(paths['imagenet'], folder), '.png', nested=True),
            _count_files(osp.join(paths['coco'], folder), '.png'),
            _count_files(osp.join(paths['ade'], 'images', ade_folder), '.jpg'),
            _count_files(osp.join(paths['ade'], 'annotations', ade_folder), '.png'),
        )
        if any(c != num for c in counts):
            return False
        if not (osp.isfile(paths[f'imagenet_{split}_ann'])
                and osp.isfile(paths[f'coco_{split}_ann'])):
            return False
    return True


def _prepare_out_dir(paths: Dict[str, str]) -> None:
    """Remove the parts of an earlier synthetic data set; refuse to mix with foreign files."""
    parts = [paths['imagenet'], paths['coco'], paths['ade']]
    if not osp.isfile(paths['manifest']):
        foreign = [p for p in parts if osp.isdir(p) and os.listdir(p)]
        if foreign:
            raise FileExistsError(f'`out_dir` {paths["root"]!r} already holds {foreign} without a '
                                  f'{_MANIFEST}: choose an empty or new directory, or remove them')
    for part in parts:
        if osp.isdir(part):
            shutil.rmtree(part)


def _write_split(paths: Dict[str, str], split: str, args: dict) -> None:
    """Render the images of one split and write them in the three layouts."""
    folder, ade_folder, stream = _SPLITS[split]
    size = args['image_size']
    img_dirs = {
        'coco': osp.join(paths['coco'], folder),
        'ade_img': osp.join(paths['ade'], 'images', ade_folder),
        'ade_ann': osp.join(paths['ade'], 'annotations', ade_folder),
    }
    for name in SYNTHETIC_CLASSES:
        # Every class folder exists even when empty: a folder scan with 5 ``classes`` needs 5.
        os.makedirs(osp.join(paths['imagenet'], folder, name), exist_ok=True)
    for d in img_dirs.values():
        os.makedirs(d, exist_ok=True)

    meta_lines, images, annotations = [], [], []
    offset = args['seed'] % len(SYNTHETIC_CLASSES)
    for idx in range(args[f'num_{split}']):
        # One independent stream per image: reproducible and independent of the split sizes.
        rng = np.random.default_rng([args['seed'], stream, idx])
        target = (idx + offset) % len(SYNTHETIC_CLASSES)
        image, instances, label = _render_image(rng, size, target, args['min_objects'],
                                                args['max_objects'])
        stem = f'{split}_{idx:05d}'
        cls_name = SYNTHETIC_CLASSES[label]
        pil = Image.fromarray(image)
        pil.save(osp.join(paths['imagenet'], folder, cls_name, f'{stem}.png'), format='PNG')
        pil.save(osp.join(img_dirs['coco'], f'{stem}.png'), format='PNG')
        pil.save(osp.join(img_dirs['ade_img'], f'{stem}.jpg'), format='JPEG', quality=_JPEG_QUALITY)
        meta_lines.append(f'{cls_name}/{stem}.png {label}')

        seg = np.zeros((size, size), dtype=np.uint8)
        image_id = idx + 1
        images.append(dict(id=image_id, file_name=f'{stem}.png', width=size, height=size))
        for cls, mask in instances:
            seg[mask] = cls + 1
            bbox, area, rle = _encode_instance(mask)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=cls + 1,
                    bbox=bbox,
                    area=area,
                    iscrowd=0,
                    segmentation=rle))
        Image.fromarray(seg).save(osp.join(img_dirs['ade_ann'], f'{stem}.png'), format='PNG')

    os.makedirs(osp.dirname(paths[f'imagenet_{split}_ann']), exist_ok=True)
    _write_atomic(paths[f'imagenet_{split}_ann'], '\n'.join(meta_lines) + '\n')
    os.makedirs(osp.dirname(paths[f'coco_{split}_ann']), exist_ok=True)
    coco = dict(
        info=dict(description='mmamt synthetic shapes', version=str(_FORMAT_VERSION)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=k + 1, name=name, supercategory='shape')
            for k, name in enumerate(SYNTHETIC_CLASSES)
        ])
    _write_json(paths[f'coco_{split}_ann'], coco)


def make_synthetic_dataset(out_dir: str,
                           num_train: int = 48,
                           num_val: int = 16,
                           image_size: int = 64,
                           seed: int = 0,
                           min_objects: int = 1,
                           max_objects: int = 3) -> Dict[str, str]:
    """Write the synthetic shapes data set in ImageNet, COCO and ADE20K layouts.

    If ``out_dir`` already holds a complete data set made with the same arguments, nothing is
    rewritten. Otherwise an earlier synthetic data set there is replaced. See the module
    docstring for the layout and the label conventions.

    Args:
        out_dir (str): Root directory of the data set; created if missing.
        num_train (int): Number of training images, >= 1. Defaults to 48.
        num_val (int): Number of validation images, >= 1. Defaults to 16.
        image_size (int): Side of the square images in pixels, in [32, 4096].
            Defaults to 64.
        seed (int): Seed of all randomness, >= 0. Defaults to 0.
        min_objects (int): Fewest shapes placed per image, in [1, 16]. Shapes
            that would end up almost hidden are not drawn. Defaults to 1.
        max_objects (int): Most shapes placed per image, in [min_objects, 16].
            Defaults to 3.

    Returns:
        dict: Absolute paths: ``root``, ``imagenet``, ``coco``, ``ade`` (the roots of the three
        layouts), ``manifest``, and the annotation files ``imagenet_train_ann``,
        ``imagenet_val_ann``, ``coco_train_ann``, ``coco_val_ann``.
    """
    _check_int('num_train', num_train, 1)
    _check_int('num_val', num_val, 1)
    _check_int('image_size', image_size, 32, 4096)
    _check_int('seed', seed, 0)
    _check_int('min_objects', min_objects, 1, 16)
    _check_int('max_objects', max_objects, int(min_objects), 16)
    args = dict(
        num_train=int(num_train),
        num_val=int(num_val),
        image_size=int(image_size),
        seed=int(seed),
        min_objects=int(min_objects),
        max_objects=int(max_objects),
        format_version=_FORMAT_VERSION)

    paths = _paths(out_dir)
    if _is_complete(paths, args):
        return paths
    os.makedirs(paths['root'], exist_ok=True)
    _prepare_out_dir(paths)
    manifest = dict(
        generator='mmamt.testing.synthetic',
        classes=list(SYNTHETIC_CLASSES),
        args=args,
        complete=False)
    # Written first, so that an interrupted run is recognised as ours and cleaned up next time.
    _write_json(paths['manifest'], manifest)
    for split in _SPLITS:
        _write_split(paths, split, args)
    manifest['complete'] = True
    _write_json(paths['manifest'], manifest)
    return paths
