"""mmpretrain benchmark configs: the MAE protocols per data set, and the CPU linear-probe demo."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS

import mmamt  # noqa: F401
from mmamt.downstream.convert import convert_checkpoint
from tests.test_downstream.test_convert import DIMS, IMG, LAYERS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'benchmarks', 'mmpretrain')
DEMO = osp.join(CONFIGS, 'vit-demo-p8_1xb16-linear-coslr-5e_synthetic-64px.py')
# data set tag -> (dataset type, data root, classes, whether images are read from files)
DATASETS = {
    'in1k': ('ImageNet', 'data/imagenet', 1000, True),
    'cifar10-224px': ('CIFAR10', 'data/cifar10', 10, False),
    'cifar100-224px': ('CIFAR100', 'data/cifar100', 100, False),
    'stl10-224px': ('CustomDataset', 'data/stl10', 10, True),
    'tiny-imagenet-224px': ('CustomDataset', 'data/tiny-imagenet', 200, True),
}
PROTOCOLS = {
    'linear': 'vit-base-p16_{batch}-linear-coslr-90e_{data}.py',
    'finetune': 'vit-base-p16_{batch}-coslr-100e_{data}.py',
}


def _config_path(protocol: str, data: str) -> str:
    batch = '8xb2048' if (protocol, data) == ('linear', 'in1k') else '8xb128'
    return osp.join(CONFIGS, PROTOCOLS[protocol].format(batch=batch, data=data))


def test_every_benchmark_config_is_covered():
    expected = {_config_path(p, d) for p in PROTOCOLS for d in DATASETS} | {DEMO}
    assert set(glob.glob(osp.join(CONFIGS, '*.py'))) == expected


@pytest.mark.parametrize('data', list(DATASETS))
@pytest.mark.parametrize('protocol', list(PROTOCOLS))
def test_benchmark_config(protocol, data):
    cfg = Config.fromfile(_config_path(protocol, data))
    dataset_type, root, num_classes, from_files = DATASETS[data]
    backbone = cfg.model.backbone
    # the converted checkpoint comes in through the `checkpoint` variable, read with the prefix
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint=cfg.checkpoint, prefix='backbone.')
    assert backbone.type == 'VisionTransformer' and backbone.arch == 'base'
    assert backbone.img_size == 224 and backbone.patch_size == 16
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes == num_classes
    assert cfg.data_preprocessor.to_rgb == from_files  # CIFAR arrays are RGB already
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        dataset = cfg[loader].dataset
        assert dataset.type == dataset_type and dataset.data_root.rstrip('/') == root
        steps = [t['type'] for t in dataset.pipeline]
        assert (steps[0] == 'LoadImageFromFile') == from_files
        # small images come out at the pre-training size (32 px CIFAR -> 224)
        results = dict(img=np.random.randint(0, 256, (32, 32, 3), dtype=np.uint8))
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            for step in dataset.pipeline[int(from_files):]:
                results = TRANSFORMS.build(step)(results)
        assert results['inputs'].shape == (3, 224, 224)
    if protocol == 'linear':
        assert backbone.frozen_stages == 12 and backbone.out_type == 'cls_token'
        assert cfg.model.neck.type == 'ClsBatchNormNeck'
        assert cfg.optim_wrapper.optimizer.type == 'LARS'
        assert cfg.train_cfg.max_epochs == 90
        batch = cfg.train_dataloader.batch_size * 8
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.1 * batch / 256)
    else:
        assert backbone.out_type == 'avg_featmap' and backbone.drop_path_rate == 0.1
        assert cfg.optim_wrapper.constructor == 'LearningRateDecayOptimWrapperConstructor'
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
        assert cfg.train_cfg.max_epochs == 100
        assert 'RandAugment' in [t['type'] for t in cfg.train_dataloader.dataset.pipeline]


def test_demo_linear_probe_runs_and_reports_accuracy(tmp_path, amt_checkpoint):
    """From a converted MAE-AMT pre-training checkpoint to top-1 accuracy."""
    synthetic = pytest.importorskip(
        'mmamt.testing.synthetic', reason='the synthetic data generator has not landed yet')
    from mmengine.runner import Runner
    data_root = tmp_path / 'data'
    synthetic.make_synthetic_dataset(str(data_root), num_train=16, num_val=8, image_size=IMG)
    src = amt_checkpoint(8)
    ckpt = torch.load(src, map_location='cpu')
    converted = str(tmp_path / 'mae_mmpretrain.pth')
    assert convert_checkpoint(src, converted, 'mmpretrain').coverage.ok

    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.backbone.init_cfg.checkpoint = converted
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root / 'imagenet')
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    runner = Runner.from_cfg(cfg)
    runner.train()
    # full backbone coverage: every encoder tensor came from the checkpoint, and the probe
    # kept it frozen
    backbone = runner.model.backbone.state_dict()
    source = {k[9:]: v for k, v in ckpt['state_dict'].items() if k.startswith('backbone.')}
    assert set(backbone) == set(source) and len(backbone) == 4 + LAYERS * 12 + 2
    assert all(backbone[k].equal(source[k]) for k in backbone)
    assert runner.model.head.layers.head.weight.shape == (5, DIMS)
    metrics = runner.test()
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0
