"""The refresh hook's panels in real Runner runs: after each refresh, to every backend."""
import uuid

import numpy as np
import pytest
from mmengine.runner import Runner
from PIL import Image

import mmamt  # noqa: F401
from mmamt.engine.hooks import AttentionRefreshHook
from mmamt.models.utils import MASKED, THROWN
from mmamt.visualization import MASK_COLORS, display_factor, panel_shape
from ._amt_runner import IMG, PATCH, tiny_cfg


def _cfg(root, work_dir, vis_backends, vis_type='AMTVisualizer'):
    cfg = tiny_cfg(root, work_dir, max_epochs=2, start_epoch=1, interval=1, num_workers=0)
    cfg.default_hooks.amt_refresh.num_panels = 3
    # A unique name: Visualizer is a per-name singleton and would keep another run's folder.
    cfg.visualizer = dict(
        type=vis_type, name=f'amt-vis-{uuid.uuid4().hex}', vis_backends=vis_backends)
    return cfg


def test_panels_are_written_after_the_refresh(synthetic_root, tmp_path):
    runner = Runner.from_cfg(_cfg(synthetic_root, tmp_path, [dict(type='LocalVisBackend')]))
    runner.train()
    img_dir = runner.visualizer.get_backend('LocalVisBackend')._img_save_dir
    assert img_dir.startswith(str(tmp_path))
    files = sorted((tmp_path / img_dir).glob('amt_*.png'))
    # one refresh (after epoch 1; never after the last epoch), samples 0..2
    assert [f.name for f in files] == ['amt_0_1.png', 'amt_1_1.png', 'amt_2_1.png']
    k = display_factor(IMG)
    tile = IMG * k
    for f in files:
        panel = np.asarray(Image.open(f).convert('RGB'))
        assert panel.shape[:2] == panel_shape(IMG)
        mask = panel[:tile, 2 * tile:3 * tile]
        # AMT counts of tiny_cfg (16 mask patches, 0.5 masked, 0.25 thrown), not random 0.75
        for value, n in ((MASKED, 8), (THROWN, 4)):
            assert (mask == MASK_COLORS[value]).all(-1).sum() == n * (PATCH * k)**2


def test_panels_need_an_amt_visualizer(synthetic_root, tmp_path):
    runner = Runner.from_cfg(
        _cfg(
            synthetic_root,
            tmp_path, [dict(type='LocalVisBackend')],
            vis_type='UniversalVisualizer'))
    with pytest.raises(ValueError, match='num_panels=3 needs .* AMTVisualizer'):
        runner.train()
    assert not list(tmp_path.rglob('amt_*.png'))


def test_arguments_are_checked():
    with pytest.raises(ValueError, match='num_panels'):
        AttentionRefreshHook(num_panels=-1)
    with pytest.raises(ValueError, match='panel_min_tile'):
        AttentionRefreshHook(num_panels=2, panel_min_tile=0)
    assert AttentionRefreshHook().num_panels == 0


def test_panels_reach_tensorboard(synthetic_root, tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    runner = Runner.from_cfg(
        _cfg(synthetic_root, tmp_path,
             [dict(type='LocalVisBackend'),
              dict(type='TensorboardVisBackend')]))
    runner.train()
    tb_dir = runner.visualizer.get_backend('TensorboardVisBackend')._save_dir
    events = EventAccumulator(str(tb_dir), size_guidance={'images': 0})
    events.Reload()
    tags = sorted(events.Tags()['images'])
    assert tags == ['amt_0', 'amt_1', 'amt_2']
    image = events.Images('amt_0')[0]
    assert image.step == 1 and (image.height, image.width) == panel_shape(IMG)
