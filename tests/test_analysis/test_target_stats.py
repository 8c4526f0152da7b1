"""The target-predictability measure: R^2 of a target from its four neighbouring patches."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmamt.analysis.target_stats import neighbour_r2, norm_pixel_targets

GRID = 6


def test_a_smooth_target_is_predictable_and_noise_is_not():
    torch.manual_seed(0)
    rows = torch.arange(GRID).repeat_interleave(GRID).float()
    cols = torch.arange(GRID).repeat(GRID).float()
    slope = torch.randn(30, 1, 2)
    smooth = torch.stack([rows, cols], -1).unsqueeze(0) * slope  # (30, 36, 2), per-image slopes
    assert neighbour_r2(smooth, GRID)['r2'] > 0.95
    noise = neighbour_r2(torch.randn(150, GRID * GRID, 4), GRID)
    assert abs(noise['r2']) < 0.05
    assert noise['mean_mse'] == pytest.approx(1.0, abs=0.15)


def test_bad_shapes_and_splits_are_refused():
    with pytest.raises(ValueError, match=r'\(N, 36, D\) for grid=6 >= 3'):
        neighbour_r2(torch.zeros(4, 35, 2), GRID)
    with pytest.raises(ValueError, match='train_share=1.0'):
        neighbour_r2(torch.zeros(4, 36, 2), GRID, train_share=1.0)


def test_norm_pixel_targets_are_mae_norm_pix():
    x = torch.randn(2, 3, 8, 8)
    t = norm_pixel_targets(x, 4)
    assert t.shape == (2, 4, 48)
    # patch (0, 1) of image 1, pixel-major with the channel last, as mmpretrain's MAE head
    patch = x[1, :, 0:4, 4:8].permute(1, 2, 0).reshape(-1)
    torch.testing.assert_close(t[1, 1], (patch - patch.mean()) / (patch.var() + 1e-6)**.5)


def test_the_tool_prints_and_writes_every_target(tmp_path, capsys):
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        'target_predictability',
        Path(__file__).resolve().parents[2] / 'tools/analysis_tools/target_predictability.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3),
                                     dtype=np.uint8)).save(tmp_path / f'{i}.png')
    out = tmp_path / 'rows.json'
    assert tool.main([str(tmp_path), '--hog', '2:4', '--images', '6', '--json', str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r['target'] for r in rows] == ['HOG pool 2, window 4', 'normalised pixels']
    assert rows[0]['dims'] == 108 and 'R^2' in capsys.readouterr().out
    assert tool.main([str(tmp_path / 'none')]) == 2


def test_kept_teacher_targets_match_the_full_image_ones_when_nothing_is_thrown(tmp_path):
    """The similarity is exactly 1 with nothing thrown (the same tokens reach the teacher) and
    falls below 1 once patches are thrown; the tool runs on a config and a folder."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmamt  # noqa: F401
    from mmamt.analysis.teacher_targets import kept_target_similarity
    from mmamt.testing.tiny_teacher import write_tiny_vit
    init_default_scope('mmpretrain')
    encoder = dict(
        type='AMTMAEViT',
        img_size=32,
        patch_size=8,
        arch=dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32))
    teacher = MODELS.build(
        dict(
            type='FrozenViTTeacher',
            checkpoint=write_tiny_vit(str(tmp_path / 't.pth'), encoder),
            encoder=encoder))
    generator = dict(
        type='AMTMaskGenerator',
        input_size=32,
        mask_patch_size=8,
        model_patch_size=8,
        random_mask_ratio=0.5,
        throw_mode='least_first',
        mask_power=0.0)
    images = torch.randn(6, 3, 32, 32)
    same = kept_target_similarity(teacher, generator, images, 0.5, 0.0)
    assert same['thrown'] == 0 and same['min'] == pytest.approx(1.0, abs=1e-5)
    cut = kept_target_similarity(teacher, generator, images, 0.5, 0.25)
    assert cut['thrown'] == 4 and cut['mean'] < 1 - 1e-4


def test_the_kept_teacher_tool_reads_a_config(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    from mmamt.testing.tiny_teacher import write_tiny_vit
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        'kept_teacher_targets', root / 'tools/analysis_tools/kept_teacher_targets.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    encoder = dict(
        type='AMTMAEViT',
        img_size=64,
        patch_size=8,
        arch=dict(embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=32))
    checkpoint = write_tiny_vit(str(tmp_path / 't.pth'), encoder)
    config = tmp_path / 'eva.py'
    base = root / 'configs/eva_amt/eva-amt-mae-style_vit-tiny-p8_1xb32-40e_digits.py'
    config.write_text(f"_base_ = '{base}'\nmodel = dict(target_generator=dict(checkpoint="
                      f"'{checkpoint}', encoder=dict(arch={encoder['arch']!r})))\n")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3),
                                     dtype=np.uint8)).save(tmp_path / f'{i}.png')
    assert tool.main([str(config), str(tmp_path), '--ratios', '0.75:0.10']) == 0
    assert '| 0.75 / 0.1 | 6 |' in capsys.readouterr().out
    assert tool.main([str(config), str(tmp_path / 'none')]) == 2
