"""The attention map follows the image through crop and flip."""
import numpy as np
import pytest

from mmamt.datasets.transforms import (AMTMaskGenerator, AMTRandomFlip, AMTRandomResizedCrop,
                                       LoadAttentionMap, compose_crop, compose_flip, sample_map)


def _crop_reference(attn_map, box_px, img_hw, grid):
    """Crop the map at a pixel box by brute force: paint it at image resolution, crop, pool."""
    h, w = img_hw
    up = np.kron(attn_map, np.ones((h // attn_map.shape[0], w // attn_map.shape[1])))
    x0, y0, x1, y1 = box_px
    crop = up[y0:y1, x0:x1]
    ys = np.linspace(0, crop.shape[0], grid + 1).astype(int)
    xs = np.linspace(0, crop.shape[1], grid + 1).astype(int)
    return np.array([[crop[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].mean() for j in range(grid)]
                     for i in range(grid)])


def _pipeline(seed, flip_prob):
    np.random.seed(seed)
    img = np.zeros((128, 128, 3), np.uint8)
    img[:64, :64] = (0, 0, 255)  # red (BGR) top-left quadrant
    attn = np.zeros((8, 8), np.float32)
    attn[:4, :4] = 1.0  # the map is hot on the same quadrant
    results = dict(img=img, img_shape=img.shape[:2], sample_idx=0)
    results = LoadAttentionMap()(results)
    results['attn_map'] = attn
    results['amt_active'] = True
    results = AMTRandomResizedCrop(scale=64, crop_ratio_range=(0.3, 0.7))(results)
    results = AMTRandomFlip(prob=flip_prob, direction='horizontal')(results)
    return results, attn


@pytest.mark.parametrize('seed', range(6))
def test_crop_matches_cropping_the_map_at_the_same_box(seed):
    results, attn = _pipeline(seed, flip_prob=0.0)
    weights = sample_map(attn, results['amt_view'], (8, 8), subsamples=8)
    reference = _crop_reference(attn, results['crop_bbox'], (128, 128), 8)
    # bilinear vs nearest painting differ only near the quadrant edge
    assert np.abs(weights - reference).mean() < 0.08
    assert np.corrcoef(weights.ravel(), reference.ravel())[0, 1] > 0.9 or reference.std() < 1e-6


@pytest.mark.parametrize('seed', range(6))
def test_map_stays_on_the_same_content_after_crop_and_flip(seed):
    results, attn = _pipeline(seed, flip_prob=1.0)
    assert results['flip']
    weights = sample_map(attn, results['amt_view'], (8, 8), subsamples=8)
    red = (results['img'][..., 2] > 127).astype(float)  # the content the map was hot on
    red_cells = red.reshape(8, 8, 8, 8).mean(axis=(1, 3))
    assert np.abs(weights - red_cells).mean() < 0.1
    # and the old corner-slicing bug (top-left of the map, ignoring the box and flip) fails it
    # unless the box happens to start at the corner
    if results['crop_bbox'][0] > 16 or results['crop_bbox'][1] > 16:
        corner = np.kron(attn[:2, :2], np.ones((4, 4)))
        assert np.abs(corner - red_cells).mean() > np.abs(weights - red_cells).mean()


def test_masks_follow_the_content_through_crop_and_flip():
    gen = AMTMaskGenerator(64, 8, 8, mask_ratio=0.2, throw_ratio=0.2)
    hits = []
    for seed in range(40):
        results, _ = _pipeline(seed, flip_prob=0.5)
        red = (results['img'][..., 2] > 127).reshape(8, 8, 8, 8).mean(axis=(1, 3)) > 0.5
        if red.sum() == 0 or red.all():
            continue
        mask = gen(results)['mask']
        # share of the masked patches on the red object vs the object's share of the view
        hits.append((mask[red] == 1).sum() / 12 - red.mean())
    assert np.mean(hits) > 0.25


def test_view_composition():
    assert compose_flip(compose_flip((0.1, 0.2, 0.5, 0.9), 'horizontal'),
                        'horizontal') == (0.1, 0.2, 0.5, 0.9)
    v = compose_crop((0.0, 0.0, 1.0, 1.0), (0.5, 0.0, 1.0, 0.5))
    v = compose_flip(v, 'horizontal')  # (1.0, 0.0, 0.5, 0.5)
    v = compose_crop(v, (0.0, 0.0, 0.5, 1.0))  # left half of the flipped view = right edge
    assert np.allclose(v, (1.0, 0.0, 0.75, 0.5))


def test_plain_flip_is_refused():
    from mmcv.transforms import RandomFlip
    results, _ = _pipeline(0, flip_prob=0.0)
    results = RandomFlip(prob=1.0)(results)
    with pytest.raises(ValueError, match='AMTRandomFlip'):
        AMTMaskGenerator(64, 8, 8)(results)


def test_crop_records_the_box_it_cut_over_many_calls():
    """The recorded box is the one cropped (content check), call after call (no state leak)."""
    crop = AMTRandomResizedCrop(scale=16, crop_ratio_range=(0.2, 1.0), interpolation='nearest')
    img = np.arange(64 * 48, dtype=np.int64).reshape(64, 48)
    img = np.stack([img % 256, img // 256, np.zeros_like(img)], -1).astype(np.uint8)
    for _ in range(2000):
        out = crop(dict(img=img.copy()))
    x0, y0, x1, y1 = out['crop_bbox']
    decoded = out['img'][..., 0].astype(int) + 256 * out['img'][..., 1].astype(int)
    rows, cols = decoded // 48, decoded % 48
    assert rows.min() >= y0 and rows.max() < y1 and cols.min() >= x0 and cols.max() < x1
