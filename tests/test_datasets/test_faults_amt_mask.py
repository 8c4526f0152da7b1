"""Ratios that mask nothing are refused at construction (no NaN losses)."""
import numpy as np
import pytest

from mmamt.datasets.transforms import AMTMaskGenerator


@pytest.mark.parametrize(
    'kwargs,key,allowed',
    [
        (dict(mask_ratio=0.0), 'mask_ratio=0.0', r'\[0.015625, 1\)'),
        (dict(random_mask_ratio=0.0), 'random_mask_ratio=0.0', r'\[0.015625, 1\)'),
        # 0.01 * 64 patches floors to 0 masked patches: as bad as 0
        (dict(mask_ratio=0.01), 'mask_ratio=0.01', r'\[0.015625, 1\)'),
        (dict(mask_ratio=0.0, rounding='ceil'), 'mask_ratio=0.0', r'\(0, 1\)'),
    ])
def test_ratio_that_masks_nothing_is_refused(kwargs, key, allowed):
    with pytest.raises(
            ValueError, match=f'{key} masks no patch of the 8x8 mask grid.*'
            f'must be in {allowed}'):
        AMTMaskGenerator(64, 8, 8, **{'throw_ratio': 0.4, **kwargs})


def test_smallest_allowed_ratio_masks_one_patch():
    gen = AMTMaskGenerator(64, 8, 8, mask_ratio=1 / 64, throw_ratio=0.0, random_mask_ratio=1 / 64)
    img = np.zeros((64, 64, 3), np.uint8)
    for active in (False, True):
        mask = gen(dict(img=img, attn_map=None, amt_active=active, sample_idx=0))['mask']
        assert (mask == 1).sum() == 1 and (mask == -1).sum() == 0
