import glob
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmamt.testing.synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'dataset_converters', 'make_synthetic_data.py')
NUM = {'train': 48, 'val': 16}
ADE_SPLIT = {'train': 'training', 'val': 'validation'}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """The data set with the default arguments (what configs and demos use)."""
    return make_synthetic_dataset(str(tmp_path_factory.mktemp('synthetic')))


def _read_tree(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def _stems(pattern):
    return sorted(osp.splitext(osp.basename(p))[0] for p in glob.glob(pattern))


def test_deterministic_and_seeded(tmp_path):
    kwargs = dict(num_train=6, num_val=2, image_size=32)
    a = _read_tree(make_synthetic_dataset(str(tmp_path / 'a'), seed=3, **kwargs)['root'])
    b = _read_tree(make_synthetic_dataset(str(tmp_path / 'b'), seed=3, **kwargs)['root'])
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
    c = _read_tree(make_synthetic_dataset(str(tmp_path / 'c'), seed=4, **kwargs)['root'])
    images_a = {k: v for k, v in a.items() if k.startswith('coco/train/')}
    images_c = {k: v for k, v in c.items() if k.startswith('coco/train/')}
    assert images_a.keys() == images_c.keys()
    assert all(images_a[k] != images_c[k] for k in images_a)


def test_reuse_and_regenerate(tmp_path):
    out = str(tmp_path / 'syn')
    paths = make_synthetic_dataset(out, num_train=5, num_val=1, image_size=32)
    stamp = {p: os.stat(p).st_mtime_ns for p in (paths['manifest'], paths['coco_train_ann'])}
    probe = osp.join(out, 'coco', 'train', 'train_00000.png')
    os.utime(probe, ns=(1, 1))
    make_synthetic_dataset(out, num_train=5, num_val=1, image_size=32)
    assert {p: os.stat(p).st_mtime_ns for p in stamp} == stamp
    assert os.stat(probe).st_mtime_ns == 1, 'a complete data set must not be rewritten'

    # Fewer images: the stale ones must go, in every layout.
    make_synthetic_dataset(out, num_train=3, num_val=1, image_size=32)
    assert len(glob.glob(osp.join(out, 'imagenet', 'train', '*', '*.png'))) == 3
    assert len(glob.glob(osp.join(out, 'ade', 'annotations', 'training', '*.png'))) == 3
    with open(paths['coco_train_ann']) as f:
        assert len(json.load(f)['images']) == 3

    # A half-written data set (missing file) is regenerated, not reused.
    os.remove(osp.join(out, 'ade', 'images', 'training', 'train_00001.jpg'))
    make_synthetic_dataset(out, num_train=3, num_val=1, image_size=32)
    assert osp.isfile(osp.join(out, 'ade', 'images', 'training', 'train_00001.jpg'))


def test_refuses_foreign_dir(tmp_path):
    os.makedirs(tmp_path / 'coco')
    (tmp_path / 'coco' / 'mine.json').write_text('{}')
    with pytest.raises(FileExistsError, match='out_dir'):
        make_synthetic_dataset(str(tmp_path), num_train=2, num_val=1, image_size=32)
    assert (tmp_path / 'coco' / 'mine.json').exists()


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_train=0), 'num_train'),
    (dict(num_val=0), 'num_val'),
    (dict(image_size=16), 'image_size'),
    (dict(seed=-1), 'seed'),
    (dict(min_objects=0), 'min_objects'),
    (dict(min_objects=3, max_objects=2), 'max_objects'),
    (dict(num_train=2.5), 'num_train'),
])
def test_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        make_synthetic_dataset(str(tmp_path), **kwargs)
    assert not os.listdir(tmp_path), 'nothing may be written for bad arguments'


@pytest.mark.parametrize('split', ['train', 'val'])
def test_formats_agree(data, split):
    ade = ADE_SPLIT[split]
    stems = {
        'imagenet': _stems(osp.join(data['imagenet'], split, '*', '*.png')),
        'coco': _stems(osp.join(data['coco'], split, '*.png')),
        'ade_img': _stems(osp.join(data['ade'], 'images', ade, '*.jpg')),
        'ade_ann': _stems(osp.join(data['ade'], 'annotations', ade, '*.png')),
    }
    assert len(stems['coco']) == NUM[split]
    assert all(s == stems['coco'] for s in stems.values())

    with open(data[f'imagenet_{split}_ann']) as f:
        meta = dict(line.split() for line in f.read().splitlines())
    assert len(meta) == NUM[split]
    labels = {path.split('/')[1][:-4]: int(lbl) for path, lbl in meta.items()}
    for path, lbl in meta.items():
        assert path.split('/')[0] == SYNTHETIC_CLASSES[int(lbl)]
        assert osp.isfile(osp.join(data['imagenet'], split, path))
    # Round-robin over the main object's class: every class is an image label.
    assert sorted(set(labels.values())) == list(range(5))

    coco = COCO(data[f'coco_{split}_ann'])
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(SYNTHETIC_CLASSES)
    multi = 0
    for img in coco.loadImgs(coco.getImgIds()):
        stem = img['file_name'][:-4]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert anns, f'{stem} has no instance'
        multi += len(anns) > 1
        expected = np.zeros((img['height'], img['width']), dtype=np.uint8)
        coverage = np.zeros_like(expected, dtype=np.int64)
        for ann in anns:
            assert ann['iscrowd'] == 0 and isinstance(ann['segmentation']['counts'], str)
            m = mask_utils.decode(ann['segmentation']).astype(bool)
            assert ann['area'] == m.sum() >= 10
            ys, xs = np.nonzero(m)
            assert ann['bbox'] == [
                xs.min(), ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            expected[m] = ann['category_id']
            coverage += m
        assert coverage.max() == 1, 'visible masks must not overlap'
        largest = max(anns, key=lambda a: a['area'])
        assert labels[stem] == largest['category_id'] - 1
        seg = Image.open(osp.join(data['ade'], 'annotations', ade, f'{stem}.png'))
        assert seg.mode == 'L'
        np.testing.assert_array_equal(np.asarray(seg), expected)
        # Textured background, not a flat colour.
        rgb = np.asarray(Image.open(osp.join(data['coco'], split, img['file_name'])))
        assert rgb.shape == (img['height'], img['width'], 3)
        assert rgb[expected == 0].std(axis=0).min() > 5
    assert multi >= NUM[split] // 4, 'expected several objects in many images'


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_ground_truth_scores_full_ap(data, split):
    gt = COCO(data[f'coco_{split}_ann'])
    for iou_type in ('bbox', 'segm'):
        key = 'bbox' if iou_type == 'bbox' else 'segmentation'
        dets = [{
            'image_id': a['image_id'],
            'category_id': a['category_id'],
            key: a[key],
            'score': 1.0
        } for a in gt.dataset['annotations']]
        ev = COCOeval(gt, gt.loadRes(dets), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        assert abs(ev.stats[0] - 1.0) < 1e-6, iou_type


def test_mmpretrain_loaders(data):
    from mmpretrain.datasets import CustomDataset, ImageNet

    meta = dict(classes=SYNTHETIC_CLASSES)
    ds = CustomDataset(
        data_root=data['imagenet'], data_prefix='train', ann_file='meta/train.txt', metainfo=meta)
    assert len(ds) == NUM['train']
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert sorted(set(labels)) == list(range(5))
    # Folder scan: folders are numbered alphabetically (documented), all 5 found.
    scan = CustomDataset(data_prefix=osp.join(data['imagenet'], 'val'))
    assert len(scan) == NUM['val']
    assert scan.metainfo['classes'] == tuple(sorted(SYNTHETIC_CLASSES))

    # ImageNet's ``split`` finds ``val/`` and ``meta/val.txt`` by itself.
    inet = ImageNet(data_root=data['imagenet'], split='val', metainfo=meta)
    assert inet.ann_file.endswith(osp.join('meta', 'val.txt'))
    assert len(inet) == NUM['val']
    assert inet.metainfo['classes'] == SYNTHETIC_CLASSES
    info = inet.get_data_info(0)
    assert osp.basename(osp.dirname(info['img_path'])) == SYNTHETIC_CLASSES[info['gt_label']]


def test_mmdet_coco_dataset(data):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations

    ds = CocoDataset(
        data_root=data['coco'],
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=SYNTHETIC_CLASSES),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=[LoadImageFromFile(),
                  LoadAnnotations(with_bbox=True, with_mask=True)])
    assert len(ds) == NUM['train']
    labels = set()
    for i in (0, 1, len(ds) - 1):
        sample = ds[i]
        n = len(sample['gt_bboxes'])
        assert n >= 1
        assert sample['img'].shape == (64, 64, 3)
        assert tuple(sample['gt_bboxes'].tensor.shape) == (n, 4)
        assert sample['gt_masks'].masks.shape == (n, 64, 64)
        assert sample['gt_bboxes_labels'].shape == (n, )
        labels.update(int(x) for x in sample['gt_bboxes_labels'])
        # The box is the tight box of the mask.
        np.testing.assert_allclose(sample['gt_masks'].get_bboxes('hbox').tensor.numpy(),
                                   sample['gt_bboxes'].tensor.numpy())
    assert labels <= set(range(5))


def test_mmseg_datasets(data):
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets import ADE20KDataset, BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations

    prefix = dict(img_path='images/validation', seg_map_path='annotations/validation')
    ds = BaseSegDataset(
        data_root=data['ade'],
        data_prefix=prefix,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        metainfo=dict(classes=SYNTHETIC_CLASSES),
        pipeline=[LoadImageFromFile(), LoadAnnotations()])
    assert len(ds) == NUM['val']
    values = set()
    for i in range(len(ds)):
        values.update(np.unique(ds[i]['gt_seg_map']).tolist())
    assert 255 in values and values - {255} and values <= set(range(5)) | {255}

    # The stock ADE20K class (150 classes) reads the same files.
    ade = ADE20KDataset(data_root=data['ade'], data_prefix=prefix)
    assert len(ade) == NUM['val']


def _load_script():
    spec = importlib.util.spec_from_file_location('make_synthetic_data', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_as_script(tmp_path):
    # One real subprocess: the script must run by path from any working directory.
    out = tmp_path / 'cli'
    proc = subprocess.run([
        sys.executable, SCRIPT,
        str(out), '--num-train', '3', '--num-val', '2', '--image-size', '32', '--seed', '1'
    ],
                          capture_output=True,
                          text=True,
                          cwd=str(tmp_path),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('\n') == 1 and '3 train + 2 val' in proc.stdout
    with open(out / 'coco' / 'annotations' / 'instances_val.json') as f:
        assert len(json.load(f)['images']) == 2


def test_cli_main(tmp_path, capsys):
    script = _load_script()
    paths = script.main(
        [str(tmp_path / 'a'), '--num-train', '2', '--num-val', '1', '--image-size', '40'])
    assert Image.open(osp.join(paths['coco'], 'train', 'train_00001.png')).size == (40, 40)
    assert '2 train + 1 val' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='image_size'):
        script.main([str(tmp_path / 'b'), '--image-size', '8'])


def test_colour_carries_no_label(tmp_path):
    """The largest object's colour does not give its class away, but objects stand out.

    A nearest-class-mean classifier on the mean RGB of the labelled object (fit on train, scored
    on val) stays near chance, where class-typical colours made it almost perfect.
    """
    paths = make_synthetic_dataset(str(tmp_path / 'syn'), num_train=200, num_val=100, image_size=32)

    def features(split):
        coco = COCO(paths[f'coco_{split}_ann'])
        folder = osp.join(paths['coco'], split)
        x, y, contrast = [], [], []
        for img_id in coco.getImgIds():
            info = coco.loadImgs(img_id)[0]
            image = np.asarray(Image.open(osp.join(folder, info['file_name'])), np.float64)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            ann = max(anns, key=lambda a: a['area'])
            obj = mask_utils.decode(ann['segmentation']).astype(bool)
            x.append(image[obj].mean(0))
            y.append(ann['category_id'] - 1)
            background = np.ones_like(obj)
            for a in anns:
                background &= ~mask_utils.decode(a['segmentation']).astype(bool)
            if background.any():
                contrast.append(np.abs(image[obj].mean(0) - image[background].mean(0)).max())
        return np.array(x), np.array(y), np.array(contrast)

    x_train, y_train, _ = features('train')
    x_val, y_val, contrast = features('val')
    means = np.stack([x_train[y_train == k].mean(0) for k in range(len(SYNTHETIC_CLASSES))])
    pred = np.argmin(((x_val[:, None] - means[None])**2).sum(-1), axis=1)
    accuracy = (pred == y_val).mean()
    # Chance is 0.2; 100 val images give a standard error of 0.04.
    assert accuracy < 0.35, accuracy
    # Objects still differ from the background: most are clearly off its mean colour.
    assert np.median(contrast) > 25, np.median(contrast)
