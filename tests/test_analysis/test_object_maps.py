"""The oracle map of the guidance experiments (mmamt.analysis.object_maps)."""
import numpy as np
import pytest
from PIL import Image

from mmamt.analysis.object_maps import ObjectMaskAsMap
from mmamt.datasets.transforms import AMTMaskGenerator
from mmamt.models.utils.token_mask import THROWN


def _digit(tmp_path, name='digit_0001.png'):
    """A 16 px image of 2 x 2 cells of 8 px whose object is the left half of the left column."""
    img = tmp_path / 'train' / '3' / name
    mask = tmp_path / 'masks' / 'train' / '3' / name
    for p in (img, mask):
        p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    obj = np.zeros((16, 16), np.uint8)
    obj[:, :4] = 255  # half of the left column of cells
    Image.fromarray(obj).save(mask)
    return str(img)


def test_object_map_is_the_object_share_of_each_cell_once_amt_is_on(tmp_path):
    img_path = _digit(tmp_path)
    t = ObjectMaskAsMap(grid=2)
    before = t(dict(img_path=img_path, attn_map=None, amt_active=False))
    assert before['attn_map'] is None  # AMT off: the map is not read, nothing is loaded
    after = t(dict(img_path=img_path, attn_map=np.ones((2, 2), np.float32), amt_active=True))
    np.testing.assert_allclose(after['attn_map'], [[0.5, 0.0], [0.5, 0.0]], atol=1 / 255)


def test_least_first_throws_the_background_with_the_oracle_map(tmp_path):
    img_path = _digit(tmp_path)
    gen = AMTMaskGenerator(
        input_size=16,
        mask_patch_size=8,
        model_patch_size=8,
        mask_ratio=0.25,
        throw_ratio=0.5,
        throw_mode='least_first',
        mask_power=0.0,
        throw_power=8.0)
    results = ObjectMaskAsMap(grid=2)(
        dict(
            img_path=img_path,
            img=np.zeros((16, 16, 3), np.uint8),
            attn_map=None,
            amt_active=True,
            amt_refreshes=1))
    for _ in range(20):
        mask = gen.transform(dict(results))['mask']
        assert (mask[:, 1] == THROWN).all() and not (mask[:, 0] == THROWN).any()


def test_a_missing_object_mask_is_refused_with_the_image_named(tmp_path):
    img_path = _digit(tmp_path)
    (tmp_path / 'masks' / 'train' / '3' / 'digit_0001.png').unlink()
    with pytest.raises(FileNotFoundError, match='digit_0001.png'):
        ObjectMaskAsMap(grid=2)(dict(img_path=img_path, attn_map=None, amt_active=True))
    with pytest.raises(ValueError, match='grid=0'):
        ObjectMaskAsMap(grid=0)
