"""Sizes that disagree are refused before training, naming the config keys."""
import os

import pytest
from mmengine.runner import Runner

from ._amt_runner import tiny_cfg


def _set(cfg, transform, **kwargs):
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] == transform:
            t.update(kwargs)


def _refused(cfg, *fragments):
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='AttentionRefreshHook: sizes disagree') as err:
        runner.train()
    for fragment in fragments:
        assert fragment in str(err.value)
    assert runner.iter == 0 and not os.path.exists(os.path.join(cfg.work_dir, 'epoch_1.pth'))
    return str(err.value)


def test_pipeline_smaller_than_the_model(synthetic_root, tmp_path):
    # trained silently before: the decoder used the first 16 of its 64 position embeddings
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0)
    cfg.model.backbone.img_size = 64
    cfg.model.neck.num_patches = 64
    _refused(cfg, 'AMTMaskGenerator.input_size=32 but model.backbone.img_size=64')


def test_pipeline_larger_than_the_model(synthetic_root, tmp_path):
    # crashed before with `index 16 is out of bounds` in gather_tokens
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0)
    _set(cfg, 'AMTRandomResizedCrop', scale=64)
    _set(cfg, 'AMTMaskGenerator', input_size=64)
    _refused(cfg, 'AMTMaskGenerator.input_size=64 but model.backbone.img_size=32')


def test_neck_and_head_that_do_not_fit_the_backbone(synthetic_root, tmp_path):
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0)
    cfg.model.neck.num_patches = 64
    cfg.model.head.patch_size = 4
    msg = _refused(
        cfg, 'model.neck.num_patches=64 but model.backbone (img_size=32, '
        'patch_size=8) has 16 patches', 'model.head.patch_size=4 but '
        'model.backbone.patch_size=8')
    assert 'AMTMaskGenerator' not in msg


def test_simmim_model_patch_size(synthetic_root, tmp_path):
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0, algo='simmim')
    _set(cfg, 'AMTMaskGenerator', model_patch_size=8)
    cfg.model.neck.encoder_stride = 8
    _refused(cfg, 'AMTMaskGenerator.model_patch_size=8 but model.backbone.patch_size=4',
             'model.neck.encoder_stride=8 but model.backbone.patch_size=4')


@pytest.mark.parametrize('algo', ['mae', 'simmim'])
def test_consistent_sizes_train(synthetic_root, tmp_path, algo):
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0, algo=algo)
    Runner.from_cfg(cfg).train()
    assert os.path.exists(os.path.join(cfg.work_dir, 'epoch_1.pth'))
