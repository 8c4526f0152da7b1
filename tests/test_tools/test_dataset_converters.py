"""STL-10 and Tiny ImageNet converters produce the layouts the configs read."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
from mmpretrain.datasets import CustomDataset
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', 'dataset_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stl10_binary_to_folders(tmp_path):
    stl = _tool('stl10_to_folders')
    src = tmp_path / 'stl10_binary'
    src.mkdir()
    classes = ['airplane', 'bird', 'car']
    (src / 'class_names.txt').write_text('\n'.join(classes) + '\n')
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (('train', 5), ('test', 4), ('unlabeled', 3)):
        imgs = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        images[split] = imgs
        # the release stores (n, channel, column, row)
        imgs.transpose(0, 3, 2, 1).tofile(src / f'{split}_X.bin')
        if split != 'unlabeled':
            np.array([1, 2, 3, 1, 2][:n], np.uint8).tofile(src / f'{split}_y.bin')
    counts = stl.main([str(src), str(tmp_path / 'out')])
    assert counts == dict(train=5, test=4, unlabeled=3)
    out = tmp_path / 'out'
    first = np.asarray(Image.open(out / 'train' / 'airplane' / '000000.png'))
    assert np.array_equal(first, images['train'][0])  # row-major, RGB, the right image
    assert np.array_equal(
        np.asarray(Image.open(out / 'test' / 'car' / '000002.png')), images['test'][2])
    pretrain = (out / 'meta' / 'pretrain.txt').read_text().split()
    assert len(pretrain) == 8 and pretrain[-1] == 'unlabeled/000002.png'
    # what the STL-10 pre-training and benchmark configs read
    ds = CustomDataset(data_root=str(out), ann_file='meta/pretrain.txt', with_label=False)
    assert len(ds) == 8
    labelled = CustomDataset(data_root=str(out), data_prefix='train')
    assert len(labelled) == 5 and labelled.CLASSES == ('airplane', 'bird', 'car')


def test_tiny_imagenet_to_folders(tmp_path):
    tiny = _tool('tiny_imagenet_to_folders')
    src = tmp_path / 'tiny-imagenet-200'
    wnids = ['n01', 'n02']
    (src / 'val' / 'images').mkdir(parents=True)
    (src / 'wnids.txt').write_text('\n'.join(wnids) + '\n')
    for w in wnids:
        folder = src / 'train' / w / 'images'
        folder.mkdir(parents=True)
        for i in range(3):
            Image.new('RGB', (64, 64), (i * 40, 0, 0)).save(folder / f'{w}_{i}.JPEG')
    rows = []
    for i, w in enumerate(['n02', 'n01', 'n02']):
        Image.new('RGB', (64, 64)).save(src / 'val' / 'images' / f'val_{i}.JPEG')
        rows.append(f'val_{i}.JPEG\t{w}\t0\t0\t63\t63')
    (src / 'val' / 'val_annotations.txt').write_text('\n'.join(rows) + '\n')
    counts = tiny.main([str(src), str(tmp_path / 'out')])
    assert counts == dict(train=6, val=3)
    out = tmp_path / 'out'
    assert sorted(p.name for p in (out / 'val' / 'n02').iterdir()) == ['val_0.JPEG', 'val_2.JPEG']
    val = CustomDataset(data_root=str(out), data_prefix='val')
    assert len(val) == 3 and val.CLASSES == ('n01', 'n02')
    assert len(CustomDataset(data_root=str(out), data_prefix='train', with_label=False)) == 6
    assert tiny.main([str(src), str(tmp_path / 'out')]) == counts  # rerun: nothing breaks


def test_digits_to_folders_writes_a_seeded_stratified_split_with_masks(tmp_path):
    digits = _tool('digits_to_folders')
    out = tmp_path / 'digits'
    meta = digits.main([str(out), '--image-size', '32'])
    assert (meta['num_train'], meta['num_val']) == (1198, 599)
    train = CustomDataset(data_root=str(out), data_prefix='train', pipeline=[])
    val = CustomDataset(data_root=str(out), data_prefix='val', pipeline=[])
    assert len(train) == 1198 and len(val) == 599
    assert train.CLASSES == tuple(str(c) for c in range(10))
    # Stratified: every class keeps about a third of its scans for validation.
    counts = np.bincount([val.get_data_info(i)['gt_label'] for i in range(len(val))], minlength=10)
    assert counts.min() >= 55 and counts.max() <= 62
    # No scan is in both splits, and every image has a digit mask beside it.
    names = {osp.basename(train.get_data_info(i)['img_path']) for i in range(len(train))}
    assert not names & {osp.basename(val.get_data_info(i)['img_path']) for i in range(len(val))}
    path = train.get_data_info(0)['img_path']
    img = np.asarray(Image.open(path))
    mask = np.asarray(Image.open(path.replace(str(out), str(out / 'masks'))))
    assert img.shape == (32, 32, 3) and mask.shape == (32, 32)
    assert set(np.unique(mask)) <= {0, 255} and 0.1 < (mask > 0).mean() < 0.6
    # The digit stands out: its pixels differ from the background's in colour.
    assert np.linalg.norm(img[mask > 0].mean(0) - img[mask == 0].mean(0)) > 40
    # Deterministic, reused when unchanged, rebuilt when the arguments change.
    stamp = osp.getmtime(path)
    assert digits.main([str(out), '--image-size', '32']) == meta
    assert osp.getmtime(path) == stamp
    again = digits.main([str(out), '--image-size', '32', '--seed', '1'])
    assert again['seed'] == 1 and len(list((out / 'train').rglob('*.png'))) == 1198
    # A folder that is not a digits set is refused, and bad arguments name the option.
    (tmp_path / 'other').mkdir()
    (tmp_path / 'other' / 'keep.txt').write_text('mine')
    for argv, word in (([str(tmp_path / 'other')], 'not empty'),
                       ([str(tmp_path / 'x'), '--image-size',
                         '8'], 'image_size'), ([str(tmp_path / 'x'), '--val-fraction',
                                                '1'], 'val_fraction')):
        with pytest.raises(SystemExit, match=word):
            digits.main(argv)
    assert (tmp_path / 'other' / 'keep.txt').read_text() == 'mine'
