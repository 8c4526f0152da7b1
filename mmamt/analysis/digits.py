"""Real handwriting for measuring pre-training: scikit-learn's bundled digit scans as images.

scikit-learn ships 1,797 handwritten digits (UCI "optical recognition of handwritten digits",
8x8 scans with 17 grey levels, ``sklearn.datasets.load_digits``) inside its wheel, so the set is
rebuilt offline with one command. Each scan becomes one RGB image: the scan, upsampled (bicubic)
to ``image_size``, is the opacity of a digit in a random colour painted over a background of
dark grey with colour grain, which carries no label. So a model has to find the digit's shape;
neither colour nor background tells the class.

Layout (ImageNet-style, what ``CustomDataset`` and the comparison harness read)::

    OUT/train/<digit>/digit_<index>.png     1,198 images (2/3 of each class, seeded)
    OUT/val/<digit>/digit_<index>.png       599 images
    OUT/masks/{train,val}/<digit>/digit_<index>.png   255 where the digit is (opacity > 0.5)
    OUT/digits.json                         how the set was made (read back to reuse it)

The masks let :mod:`mmamt.analysis.attention_stats` report how much of the attention lands on
the digit. scikit-learn is an optional dependency (``requirements/benchmark.txt``, the
``benchmark`` extra); nothing else in mmamt needs it.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, Optional

import numpy as np
from PIL import Image

from mmamt.utils.io import atomic_write_bytes

META_FILE = 'digits.json'
FORMAT = 3  # bump when the rendering changes, so old folders are rebuilt, not reused


def _load_scans():
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError('the handwritten digits come with scikit-learn, which is not '
                          'installed: pip install -r requirements/benchmark.txt') from e
    digits = load_digits()
    return digits.images.astype(np.float64) / 16.0, digits.target.astype(np.int64)


def split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """A seeded per-class split: True for validation samples.

    Each class keeps ``round(n_c * val_fraction)`` of its samples for validation, so the class
    balance of both splits matches the whole set.
    """
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        is_val[rng.permutation(idx)[:int(round(len(idx) * val_fraction))]] = True
    return is_val


def render_digit(scan: np.ndarray, image_size: int,
                 rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """One scan as an RGB image of a coloured digit over a label-free dark grain background.

    Args:
        scan (np.ndarray): ``(8, 8)`` grey levels in [0, 1] (1 = ink).
        image_size (int): Side of the output image.
        rng (np.random.Generator): Colours and noise.

    Returns:
        dict: ``img`` uint8 ``(S, S, 3)``, ``mask`` uint8 ``(S, S)`` (255 on the digit).
    """
    size = (image_size, image_size)
    alpha = np.asarray(
        Image.fromarray(scan.astype(np.float32), mode='F').resize(size, Image.BICUBIC),
        dtype=np.float64).clip(0.0, 1.0)
    # Background: dark grey with colour grain (a random-colour background makes the set so hard
    # that a tiny ViT's features probe near chance after 40 epochs, whatever the pre-training).
    base = np.full(3, 40.0)
    background = base + rng.normal(0, 30, size + (3, ))
    # The digit's colour is random but must stand out from the background's base colour.
    while True:
        ink = rng.uniform(0, 255, size=3)
        if np.linalg.norm(ink - base) > 150:
            break
    img = alpha[..., None] * ink + (1.0 - alpha[..., None]) * background
    return dict(
        img=np.clip(np.rint(img), 0, 255).astype(np.uint8),
        mask=np.where(alpha > 0.5, 255, 0).astype(np.uint8))


def png_bytes(array: np.ndarray) -> bytes:
    """``array`` (H, W[, C] uint8) encoded as a PNG file."""
    from io import BytesIO
    buf = BytesIO()
    Image.fromarray(array).save(buf, format='PNG')
    return buf.getvalue()


def make_digits_dataset(out_dir: str,
                        image_size: int = 64,
                        val_fraction: float = 1 / 3,
                        seed: int = 0,
                        log=None) -> Dict:
    """Write the handwritten digits set (see the module docstring); reuse an identical one.

    The set is built in a temporary folder beside ``out_dir`` and renamed into place, so a
    killed build leaves no half-written set under ``out_dir``.

    Args:
        out_dir (str): Root of the set (``train/``, ``val/``, ``masks/``).
        image_size (int): Image side in pixels, 16 to 1024. Defaults to 64.
        val_fraction (float): Share of each class kept for validation, in (0, 1).
            Defaults to 1/3 (1,198 train / 599 val).
        seed (int): Split, colours and noise. Defaults to 0.
        log (callable, optional): Progress lines. Defaults to None.

    Returns:
        dict: The contents of ``digits.json``: the arguments, ``num_train``, ``num_val``,
        ``classes`` and ``root``.

    Raises:
        ValueError: If an argument is out of range.
        FileExistsError: If ``out_dir`` holds files that are not a digits set.
        ImportError: If scikit-learn is not installed.
    """
    if int(image_size) != image_size or not 16 <= image_size <= 1024:
        raise ValueError(f'image_size={image_size} must be an integer in [16, 1024]')
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f'val_fraction={val_fraction} must be in (0, 1)')
    if int(seed) != seed or seed < 0:
        raise ValueError(f'seed={seed} must be an integer >= 0')
    root = osp.abspath(out_dir)
    wanted = dict(
        format=FORMAT, image_size=int(image_size), val_fraction=float(val_fraction), seed=int(seed))
    meta_path = osp.join(root, META_FILE)
    old: Optional[Dict] = None
    if osp.isfile(meta_path):
        with open(meta_path, encoding='utf-8') as f:
            old = json.load(f)
        if all(old.get(k) == v for k, v in wanted.items()):
            return dict(old, root=root)
    elif osp.isdir(root) and os.listdir(root):
        raise FileExistsError(f'out_dir {root!r} is not empty and holds no {META_FILE}: '
                              'choose a new or empty folder')
    scans, labels = _load_scans()
    is_val = split_indices(labels, val_fraction, seed)
    rng = np.random.default_rng(seed)
    tmp = f'{root}.building-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for i, (scan, label) in enumerate(zip(scans, labels)):
            split = 'val' if is_val[i] else 'train'
            sample = render_digit(scan, int(image_size), rng)
            name = osp.join(split, str(label), f'digit_{i:04d}.png')
            for folder, key in (('', 'img'), ('masks', 'mask')):
                path = osp.join(tmp, folder, name)
                os.makedirs(osp.dirname(path), exist_ok=True)
                with open(path, 'wb') as f:
                    f.write(png_bytes(sample[key]))
        meta = dict(
            wanted,
            num_train=int((~is_val).sum()),
            num_val=int(is_val.sum()),
            classes=[str(c) for c in range(10)],
            source='sklearn.datasets.load_digits (UCI optical digits, 8x8 scans)')
        atomic_write_bytes(json.dumps(meta, indent=1).encode('utf-8'), osp.join(tmp, META_FILE))
        if old is not None:  # an earlier digits set made with other arguments
            shutil.rmtree(root)
        elif osp.isdir(root):
            os.rmdir(root)  # empty
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if log is not None:
        log(f'handwritten digits: {meta["num_train"]} train + {meta["num_val"]} val images of '
            f'{image_size}x{image_size} in {root}')
    return dict(meta, root=root)
