"""The synthetic images in the on-disk layout of every real data set that mmamt's configs read.

``make_dataset_layouts(DATA_DIR)`` first writes the synthetic shapes data set
(:func:`mmamt.testing.make_synthetic_dataset`) to ``DATA_DIR/synthetic``, then lays the *same*
images out as the configs under ``configs/`` expect to find the real data sets (the paths in the
README's "Data" table), so that every config's own loader runs on its own format::

    DATA_DIR/
    ├── synthetic/                      the demo configs' layouts (imagenet/, coco/, ade/)
    ├── digits/{train,val}/<class>/*.png   (the handwritten digits' class folders)
    ├── objects-a/{train,val}/<class>/*.png   (objects-a's class folders)
    ├── imagenet/{train,val}/<class>/*.png, imagenet/meta/{train,val}.txt     (ImageNet)
    ├── cifar10/cifar-10-batches-py/    data_batch_1..5, test_batch, batches.meta (pickles)
    ├── cifar100/cifar-100-python/      train, test, meta (pickles)
    ├── stl10/{train,test}/<class>/*.png, stl10/unlabeled/*.png, stl10/meta/pretrain.txt
    ├── tiny-imagenet/{train,val}/<wnid>/*.JPEG
    ├── coco/{train2017,val2017}/*.png, coco/annotations/instances_{train,val}2017.json
    ├── ade/ADEChallengeData2016/{images,annotations}/{training,validation}/*
    └── scenes-a/  classes.txt, images/, annotations/, masks/, meta/   (the scenes layout)

CIFAR, STL-10 and Tiny ImageNet images are resized to their data sets' sizes (32, 96, 64 px).
The CIFAR pickles have the real keys and shapes, but not the real files' md5 sums, which
mmpretrain's ``CIFAR10``/``CIFAR100`` check: the returned ``cifar_md5`` says which sums to accept
(tests patch the loaders' file lists with them). COCO categories carry the names of COCO's first
five classes (ids 1-5), so mmdet's ``CocoDataset`` with its 80 COCO classes keeps them. The
scenes layout (:func:`make_scenes_layout`) names the five shapes after scenes-a's first five
classes and lists all ten, as the scenes configs do.
"""
import hashlib
import json
import os
import os.path as osp
import pickle
import shutil
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from ..utils.io import atomic_write_bytes
from .synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset

# COCO's first five categories (ids 1-5 in instances_*2017.json) stand in for the five shapes.
COCO_NAMES = ('person', 'bicycle', 'car', 'motorcycle', 'airplane')
TINY_IMAGENET_WNIDS = tuple(f'n0000000{k}' for k in range(len(SYNTHETIC_CLASSES)))
_CIFAR_TRAIN_BATCHES = 5


def _read_split(imagenet_root: str, split: str) -> List[Tuple[str, int, str]]:
    """``(stem, label, absolute path)`` of each image of a split, in the generator's order."""
    with open(osp.join(imagenet_root, 'meta', f'{split}.txt'), encoding='utf-8') as f:
        entries = [line.split() for line in f if line.strip()]
    return [(osp.splitext(osp.basename(rel))[0], int(label), osp.join(imagenet_root, split, rel))
            for rel, label in entries]


def _resized(path: str, size: int) -> Image.Image:
    return Image.open(path).convert('RGB').resize((size, size), Image.BICUBIC)


def _dump_pickle(path: str, obj: dict) -> str:
    """Pickle ``obj`` to ``path`` atomically; return the file's md5 (what mmpretrain checks)."""
    data = pickle.dumps(obj, protocol=2)
    atomic_write_bytes(data, path)
    return hashlib.md5(data).hexdigest()


def _write_cifar(out_dir: str, splits: Dict[str, list], cifar100: bool) -> Dict[str, str]:
    """CIFAR-10 or CIFAR-100 (``cifar100=True``) python pickles; returns ``{file: md5}``."""
    os.makedirs(out_dir, exist_ok=True)
    label_key = 'fine_labels' if cifar100 else 'labels'

    def batch(items: list) -> dict:
        data = np.stack(
            [np.asarray(_resized(p, 32)).transpose(2, 0, 1).reshape(-1)
             for _, _, p in items]) if items else np.zeros((0, 3072), np.uint8)
        return {
            'data': data.astype(np.uint8),
            label_key: [lbl for _, lbl, _ in items],
            'filenames': [f'{stem}.png' for stem, _, _ in items]
        }

    md5 = {}
    names = list(SYNTHETIC_CLASSES)
    if cifar100:
        md5['train'] = _dump_pickle(osp.join(out_dir, 'train'), batch(splits['train']))
        md5['test'] = _dump_pickle(osp.join(out_dir, 'test'), batch(splits['val']))
        md5['meta'] = _dump_pickle(
            osp.join(out_dir, 'meta'), {
                'fine_label_names': names,
                'coarse_label_names': names
            })
        return md5
    for k in range(_CIFAR_TRAIN_BATCHES):
        name = f'data_batch_{k + 1}'
        md5[name] = _dump_pickle(
            osp.join(out_dir, name), batch(splits['train'][k::_CIFAR_TRAIN_BATCHES]))
    md5['test_batch'] = _dump_pickle(osp.join(out_dir, 'test_batch'), batch(splits['val']))
    md5['batches.meta'] = _dump_pickle(osp.join(out_dir, 'batches.meta'), {'label_names': names})
    return md5


def _write_stl10(out_dir: str, splits: Dict[str, list]) -> None:
    """The layout of ``tools/dataset_converters/stl10_to_folders.py`` (96 px PNGs)."""
    lines = []
    for split, folder in (('train', 'train'), ('val', 'test')):
        for i, (_, label, path) in enumerate(splits[split]):
            rel = osp.join(folder, SYNTHETIC_CLASSES[label], f'{i}.png')
            os.makedirs(osp.dirname(osp.join(out_dir, rel)), exist_ok=True)
            _resized(path, 96).save(osp.join(out_dir, rel))
            if split == 'train':
                lines.append(rel)
    # The unlabelled split: the training images again, without their class folders.
    for i, (_, _, path) in enumerate(splits['train']):
        rel = osp.join('unlabeled', f'{i}.png')
        os.makedirs(osp.join(out_dir, 'unlabeled'), exist_ok=True)
        _resized(path, 96).save(osp.join(out_dir, rel))
        lines.append(rel)
    _write_text(osp.join(out_dir, 'meta', 'pretrain.txt'), ''.join(f'{x}\n' for x in lines))


def _write_tiny_imagenet(out_dir: str, splits: Dict[str, list]) -> None:
    """The layout of ``tools/dataset_converters/tiny_imagenet_to_folders.py`` (64 px JPEGs)."""
    for split in ('train', 'val'):
        for i, (_, label, path) in enumerate(splits[split]):
            folder = osp.join(out_dir, split, TINY_IMAGENET_WNIDS[label])
            os.makedirs(folder, exist_ok=True)
            _resized(path, 64).save(
                osp.join(folder, f'{TINY_IMAGENET_WNIDS[label]}_{i}.JPEG'),
                format='JPEG',
                quality=95)


def _write_text(path: str, text: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    atomic_write_bytes(text.encode('utf-8'), path)


def _write_coco(out_dir: str, synthetic_coco: str) -> None:
    """COCO 2017 folder and file names; categories renamed to COCO's first five classes."""
    for split in ('train', 'val'):
        shutil.copytree(
            osp.join(synthetic_coco, split), osp.join(out_dir, f'{split}2017'), dirs_exist_ok=True)
        with open(
                osp.join(synthetic_coco, 'annotations', f'instances_{split}.json'),
                encoding='utf-8') as f:
            coco = json.load(f)
        for cat in coco['categories']:
            cat['name'] = COCO_NAMES[cat['id'] - 1]
        _write_text(
            osp.join(out_dir, 'annotations', f'instances_{split}2017.json'),
            json.dumps(coco, separators=(',', ':')))


# scenes-a's classes.txt (``../shared/data/scenes-a``): the scenes configs list these ten.
SCENES_CLASSES = ('bird', 'bug', 'sea_animal', 'reptile', 'hoofed', 'carnivore', 'flower', 'tree',
                  'fruit', 'vegetable')


def make_scenes_layout(synthetic: Dict[str, str], out_dir: str) -> str:
    """The synthetic images in the scenes layout (:mod:`mmamt.analysis.scenes`).

    Shape ``k`` is scenes class ``k``; ``classes.txt`` and the COCO categories list all ten
    scenes classes, so the configs' class lists match.

    Args:
        synthetic (dict): What :func:`make_synthetic_dataset` returned.
        out_dir (str): The scenes root (replaced).

    Returns:
        str: ``out_dir``, absolute.
    """
    out_dir = osp.abspath(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    _write_text(osp.join(out_dir, 'classes.txt'), '\n'.join(SCENES_CLASSES) + '\n')
    for split, ade_split in (('train', 'training'), ('val', 'validation')):
        with open(synthetic[f'coco_{split}_ann'], encoding='utf-8') as f:
            coco = json.load(f)
        labels = {}
        with open(synthetic[f'imagenet_{split}_ann'], encoding='utf-8') as f:
            for line in f:
                name, label = line.split()
                labels[osp.splitext(osp.basename(name))[0]] = int(label)
        os.makedirs(osp.join(out_dir, 'images', split))
        shutil.copytree(
            osp.join(synthetic['ade'], 'annotations', ade_split), osp.join(out_dir, 'masks', split))
        meta = []
        for image in coco['images']:
            stem = osp.splitext(image['file_name'])[0]
            shutil.copy(
                osp.join(synthetic['ade'], 'images', ade_split, f'{stem}.jpg'),
                osp.join(out_dir, 'images', split, f'{stem}.jpg'))
            image['file_name'] = f'{stem}.jpg'
            meta.append(f'{stem}.jpg {labels[stem]}')
        coco['categories'] = [
            dict(id=k + 1, name=name, supercategory='object')
            for k, name in enumerate(SCENES_CLASSES)
        ]
        _write_text(
            osp.join(out_dir, 'annotations', f'instances_{split}.json'),
            json.dumps(coco, separators=(',', ':')))
        _write_text(osp.join(out_dir, 'meta', f'{split}.txt'), '\n'.join(meta) + '\n')
    return out_dir


def make_dataset_layouts(data_dir: str,
                         num_train: int = 4,
                         num_val: int = 2,
                         image_size: int = 64,
                         seed: int = 0,
                         min_objects: int = 1,
                         max_objects: int = 3) -> Dict[str, object]:
    """Write the synthetic images in every layout the configs read (see the module docstring).

    Args:
        data_dir (str): The folder that plays ``data/``; created if missing. Existing layouts
            in it are replaced.
        num_train (int): Training images per data set, >= 1. Defaults to 4.
        num_val (int): Validation images per data set, >= 1. Defaults to 2.
        image_size (int): Side of the synthetic images, in [32, 4096]. Defaults to 64.
        seed (int): Seed of the synthetic images, >= 0. Defaults to 0.
        min_objects (int): Fewest shapes per image. Defaults to 1.
        max_objects (int): Most shapes per image. Defaults to 3.

    Returns:
        dict: ``data_dir`` (absolute), ``synthetic`` (the paths returned by
        ``make_synthetic_dataset``) and ``cifar_md5``: ``{'cifar10': {file: md5},
        'cifar100': {file: md5}}``.
    """
    data_dir = osp.abspath(data_dir)
    synthetic = make_synthetic_dataset(
        osp.join(data_dir, 'synthetic'),
        num_train=num_train,
        num_val=num_val,
        image_size=image_size,
        seed=seed,
        min_objects=min_objects,
        max_objects=max_objects)
    splits = {s: _read_split(synthetic['imagenet'], s) for s in ('train', 'val')}
    for name in ('imagenet', 'digits', 'objects-a', 'cifar10', 'cifar100', 'stl10', 'tiny-imagenet',
                 'coco', 'ade', 'scenes-a'):
        shutil.rmtree(osp.join(data_dir, name), ignore_errors=True)
    shutil.copytree(synthetic['imagenet'], osp.join(data_dir, 'imagenet'))
    for name in ('digits', 'objects-a'):
        shutil.copytree(
            synthetic['imagenet'], osp.join(data_dir, name), ignore=shutil.ignore_patterns('meta'))
    cifar_md5 = {
        'cifar10':
        _write_cifar(osp.join(data_dir, 'cifar10', 'cifar-10-batches-py'), splits, cifar100=False),
        'cifar100':
        _write_cifar(osp.join(data_dir, 'cifar100', 'cifar-100-python'), splits, cifar100=True),
    }
    _write_stl10(osp.join(data_dir, 'stl10'), splits)
    _write_tiny_imagenet(osp.join(data_dir, 'tiny-imagenet'), splits)
    _write_coco(osp.join(data_dir, 'coco'), synthetic['coco'])
    shutil.copytree(synthetic['ade'], osp.join(data_dir, 'ade', 'ADEChallengeData2016'))
    make_scenes_layout(synthetic, osp.join(data_dir, 'scenes-a'))
    return dict(data_dir=data_dir, synthetic=synthetic, cifar_md5=cifar_md5)
