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
    # patch (0, 1) of image 1, channel-major as the unfold gives it
    patch = x[1, :, 0:4, 4:8].reshape(-1)
    torch.testing.assert_close(t[1, 1], (patch - patch.mean()) / (patch.var() + 1e-6)**.5)


def test_the_tool_prints_and_writes_every_target(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('target_predictability',
                                                  'tools/analysis_tools/target_predictability.py')
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
