"""The synthetic images in the real data sets' layouts (what the config smoke test reads)."""
import hashlib
import json
import os
import os.path as osp
import pickle

import numpy as np

from mmamt.testing import COCO_NAMES, TINY_IMAGENET_WNIDS, make_dataset_layouts


def test_layouts_hold_every_split_in_its_format(tmp_path):
    out = make_dataset_layouts(str(tmp_path / 'data'), num_train=6, num_val=3)
    data = out['data_dir']

    # CIFAR: the python pickles' keys and shapes; five training batches share the 6 images.
    cifar10 = osp.join(data, 'cifar10', 'cifar-10-batches-py')
    batches = [pickle.load(open(osp.join(cifar10, f'data_batch_{k}'), 'rb')) for k in range(1, 6)]
    assert sum(len(b['labels']) for b in batches) == 6
    assert all(b['data'].dtype == np.uint8 and b['data'].shape[1] == 3072 for b in batches)
    test = pickle.load(open(osp.join(cifar10, 'test_batch'), 'rb'))
    assert test['data'].shape == (3, 3072)
    cifar100 = pickle.load(open(osp.join(data, 'cifar100', 'cifar-100-python', 'train'), 'rb'))
    assert len(cifar100['fine_labels']) == 6
    for name, sums in out['cifar_md5'].items():
        folder = osp.join(data, name, os.listdir(osp.join(data, name))[0])
        for file, md5 in sums.items():
            assert hashlib.md5(open(osp.join(folder, file), 'rb').read()).hexdigest() == md5

    # STL-10 as stl10_to_folders.py writes it: labelled splits, unlabelled, the pretrain list.
    stl = osp.join(data, 'stl10')
    lines = open(osp.join(stl, 'meta', 'pretrain.txt')).read().split()
    assert len(lines) == 12 and all(osp.isfile(osp.join(stl, p)) for p in lines)
    assert sum(len(files) for _, _, files in os.walk(osp.join(stl, 'test'))) == 3

    # Tiny ImageNet as tiny_imagenet_to_folders.py writes it: wnid class folders of JPEGs.
    tiny_val = osp.join(data, 'tiny-imagenet', 'val')
    assert set(os.listdir(tiny_val)) <= set(TINY_IMAGENET_WNIDS)

    # COCO 2017 names; the categories keep COCO's first five names and ids.
    coco = json.load(open(osp.join(data, 'coco', 'annotations', 'instances_val2017.json')))
    assert [(c['id'], c['name']) for c in coco['categories']] == list(zip(range(1, 6), COCO_NAMES))
    assert all(
        osp.isfile(osp.join(data, 'coco', 'val2017', im['file_name'])) for im in coco['images'])
    ade = osp.join(data, 'ade', 'ADEChallengeData2016')
    assert len(os.listdir(osp.join(ade, 'images', 'validation'))) == 3
    assert len(os.listdir(osp.join(ade, 'annotations', 'training'))) == 6
