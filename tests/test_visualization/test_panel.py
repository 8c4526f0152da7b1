"""Panel drawing: exact tiles, colours per mask value, counts in mask patches."""
import numpy as np
import pytest

from mmamt.models.utils import MASKED, THROWN, VISIBLE
from mmamt.visualization import (MASK_COLORS, THROWN_GREY, display_factor, draw_panel,
                                 heatmap_overlay, mask_counts, panel_shape)


def test_sizes():
    assert display_factor(224) == 1 and display_factor(64) == 4 and display_factor(32) == 7
    assert panel_shape(224) == (224 + 44, 896)
    assert panel_shape(64, min_tile=100) == (128 + 44, 512)


def test_draw_panel_tiles():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    recon = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    # a 4x4 model grid of 2x2 mask cells (SimMIM-style): 2 masked, 1 thrown, 1 visible cell
    cells = np.array([[MASKED, THROWN], [VISIBLE, MASKED]])
    token_mask = cells.repeat(2, 0).repeat(2, 1)
    assert mask_counts(token_mask, cell=2) == dict(masked=2, thrown=1, visible=1)
    panel = draw_panel(img, np.full((4, 4), 0.5), token_mask, recon, mask_cell=2, min_tile=64)
    assert panel.shape == (*panel_shape(16, min_tile=64), 3)
    t = 64
    image_tile, mask_tile, recon_tile = panel[:t, :t], panel[:t, 2 * t:3 * t], panel[:t, 3 * t:]
    assert np.array_equal(image_tile, img.repeat(4, 0).repeat(4, 1))
    for value, n in ((MASKED, 2), (THROWN, 1), (VISIBLE, 1)):
        assert (mask_tile == MASK_COLORS[value]).all(-1).sum() == n * 32 * 32
    big_recon = recon.repeat(4, 0).repeat(4, 1)
    assert np.array_equal(recon_tile[:32, :32], big_recon[:32, :32])  # masked: prediction
    assert (recon_tile[:32, 32:] == THROWN_GREY).all()  # thrown: grey
    assert np.array_equal(recon_tile[32:, :32], image_tile[32:, :32])  # visible: input
    assert (panel[t:, :, :] < 255).any()  # captions and legend were written
    with pytest.raises(ValueError, match='square'):
        draw_panel(img[:8], np.ones((4, 4)), token_mask, recon[:8])


def test_heatmap_scale_is_fixed():
    img = np.full((8, 8, 3), 100, np.uint8)
    low = heatmap_overlay(img, np.zeros((2, 2)))
    high = heatmap_overlay(img, np.ones((2, 2)))
    assert (low == low[0, 0]).all() and (high == high[0, 0]).all()
    assert not np.array_equal(low[0, 0], high[0, 0])  # a uniform map is not stretched


def test_panel_masks_follow_the_ramp_like_training():
    # Before this, panels drew with 0 refreshes, so a ramped generator drew uniform masks.
    from mmamt.datasets.transforms import AMTMaskGenerator
    from mmamt.visualization import draw_token_masks
    attn = np.zeros((8, 8), np.float32)
    attn[:, :4] = 1.0  # the left half attended
    gen = AMTMaskGenerator(64, 8, 8, throw_mode='least_first', mask_power=0.0, ramp_refreshes=4)
    maps = np.stack([attn] * 40)
    seeds = list(range(40))
    thrown_left = [(draw_token_masks(gen, maps, seeds, n)[:, :, :4] == -1).mean()
                   for n in (0, None)]
    # 0 refreshes: the ramp has not begun, throwing is uniform (half the thrown on the left);
    # by default the guidance is at full strength: the attended half keeps its patches.
    assert abs(thrown_left[0] - 26 / 64) < 0.08 and thrown_left[1] < 0.05
