import warnings

import numpy as np
import pytest

from mmamt.datasets.transforms import AMTMaskGenerator, patch_counts


def _results(size, attn_map=None, active=True):
    return dict(
        img=np.zeros((size, size, 3), np.uint8), attn_map=attn_map, amt_active=active, sample_idx=0)


@pytest.mark.parametrize(
    'input_size,mask_patch,model_patch,rm,rt,rounding,expected',
    [
        (224, 16, 16, 0.45, 0.40, 'floor', (88, 78, 30)),  # the MAE reference counts
        (224, 32, 16, 0.44, 0.26, 'ceil', (22, 13, 14)),  # the SimMIM reference counts
        (64, 8, 8, 0.45, 0.40, 'floor', (28, 26, 10)),
        (96, 16, 8, 0.5, 0.25, 'floor', (18, 9, 9)),
        (160, 16, 16, 0.29, 0.3, 'floor', (29, 30, 41)),  # 0.29 * 100 is 28.999999999999996
    ])
def test_exact_counts(input_size, mask_patch, model_patch, rm, rt, rounding, expected):
    gen = AMTMaskGenerator(
        input_size, mask_patch, model_patch, mask_ratio=rm, throw_ratio=rt, rounding=rounding)
    grid = input_size // mask_patch
    rng = np.random.default_rng(0)
    scale = mask_patch // model_patch
    for _ in range(20):
        np.random.seed(int(rng.integers(1 << 30)))
        attn = rng.random((grid, grid)).astype(np.float32)
        mask = gen(_results(input_size, attn))['mask']
        assert mask.shape == (input_size // model_patch, ) * 2
        coarse = mask[::scale, ::scale]
        # each mask patch is one block of scale x scale model patches
        assert (np.kron(coarse, np.ones((scale, scale), np.int8)) == mask).all()
        counts = ((coarse == 1).sum(), (coarse == -1).sum(), (coarse == 0).sum())
        assert counts == expected


def test_random_masking_before_amt_starts():
    gen = AMTMaskGenerator(64, 8, 8, mask_ratio=0.45, throw_ratio=0.40, random_mask_ratio=0.75)
    hot = np.zeros((8, 8), np.float32)
    hot[:4, :4] = 1
    mask = gen(_results(64, hot, active=False))['mask']
    assert (mask == -1).sum() == 0 and (mask == 1).sum() == 48


def test_hot_region_is_masked_far_more_often_than_chance():
    np.random.seed(0)
    gen = AMTMaskGenerator(64, 8, 8, mask_ratio=0.25, throw_ratio=0.25)
    hot = np.zeros((8, 8), np.float32)
    hot[:4, :4] = 1.0  # a quarter of the patches
    masked_in_hot = []
    for _ in range(200):
        mask = gen(_results(64, hot))['mask']
        masked_in_hot.append((mask[:4, :4] == 1).sum() / (mask == 1).sum())
    # chance would put 25% of the masked patches in the hot quadrant
    assert np.mean(masked_in_hot) > 0.9


def test_uniform_map_gives_uniform_frequencies():
    np.random.seed(1)
    gen = AMTMaskGenerator(64, 8, 8, mask_ratio=0.45, throw_ratio=0.40)
    attn = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    attn[:] = 0.5
    attn[0, 0] = 0.5 + 1e-3  # not constant, but effectively uniform
    n = 2000
    freq = np.zeros((8, 8))
    for _ in range(n):
        freq += gen(_results(64, attn))['mask'] == 1
    freq /= n
    expected = 28 / 64
    # binomial std at n=2000 is ~0.011; 5 sigma
    assert np.abs(freq - expected).max() < 0.055


@pytest.mark.parametrize('bad', [np.full((8, 8), np.nan, np.float32), np.zeros((8, 8), np.float32)])
def test_nan_or_constant_map_falls_back_to_uniform_with_warning(bad):
    gen = AMTMaskGenerator(64, 8, 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        mask = gen(_results(64, bad))['mask']
    assert any('uniform' in str(w.message) for w in caught)
    assert (mask == 1).sum() == 28 and (mask == -1).sum() == 26


@pytest.mark.parametrize('kwargs,key', [
    (dict(mask_ratio=1.0), 'mask_ratio'),
    (dict(mask_ratio=-0.1), 'mask_ratio'),
    (dict(throw_ratio=1.2), 'throw_ratio'),
    (dict(mask_ratio=0.6, throw_ratio=0.4), 'mask_ratio + throw_ratio'),
    (dict(mask_ratio=0.5, throw_ratio=0.45, rounding='ceil'), 'no visible patch'),
    (dict(input_size=100, mask_patch_size=16), 'input_size=100'),
    (dict(mask_patch_size=24, model_patch_size=16, input_size=48), 'mask_patch_size=24'),
    (dict(random_mask_ratio=1.0), 'random_mask_ratio'),
])
def test_bad_arguments_name_the_key(kwargs, key):
    args = dict(input_size=64, mask_patch_size=16, model_patch_size=16)
    args.update(kwargs)
    with pytest.raises(ValueError, match=key.replace('+', r'\+')):
        AMTMaskGenerator(**args)


def test_wrong_image_size_is_refused():
    gen = AMTMaskGenerator(64, 8, 8)
    with pytest.raises(ValueError, match='input_size=64'):
        gen(_results(32, None))


def test_patch_counts_rounding():
    assert patch_counts(49, 0.44, 0.26, 'floor') == (21, 13)
    assert patch_counts(49, 0.44, 0.26, 'ceil') == (22, 13)
    with pytest.raises(ValueError, match='rounding'):
        patch_counts(49, 0.5, 0.1, 'nearest')


def _mean_weight_by_role(gen, attn, results_extra=None, reps=300):
    """Mean attention of masked / thrown / visible patches over many draws."""
    np.random.seed(0)
    sums = {1: [], -1: [], 0: []}
    for _ in range(reps):
        results = _results(64, attn)
        results.update(results_extra or {})
        mask = gen(results)['mask']
        for role in sums:
            sums[role].append(attn[mask == role].mean())
    return {role: float(np.mean(v)) for role, v in sums.items()}


def _gradient_map():
    # Attention rising from left to right: column j has weight (j + 0.5) / 8.
    return np.tile((np.arange(8, dtype=np.float32) + 0.5) / 8, (8, 1))


def test_throw_next_throws_high_attention_least_throws_low_attention():
    attn = _gradient_map()
    overall = float(attn.mean())
    nxt = _mean_weight_by_role(AMTMaskGenerator(64, 8, 8, mask_ratio=0.25, throw_ratio=0.40), attn)
    least = _mean_weight_by_role(
        AMTMaskGenerator(64, 8, 8, mask_ratio=0.25, throw_ratio=0.40, throw_mode='least'), attn)
    # The reference: masked are the most attended, thrown the next, visible the rest.
    assert nxt[1] > nxt[-1] > nxt[0]
    # 'least': masking unchanged, thrown patches are the low-attention ones, visible lean to the
    # attended side.
    assert abs(least[1] - nxt[1]) < 0.02
    assert least[-1] < overall - 0.1 and least[0] > overall + 0.05
    assert least[0] > nxt[0] + 0.15


def test_least_first_throws_the_least_attended_and_keeps_both_roles_on_the_attended_side():
    attn = _gradient_map()
    overall = float(attn.mean())
    # Uniform masking inside the kept patches: masked and visible have the same mean weight,
    # both above the image's, and the thrown ones are far below it.
    gen = AMTMaskGenerator(
        64, 8, 8, mask_ratio=0.45, throw_ratio=0.40, mask_power=0.0, throw_mode='least_first')
    roles = _mean_weight_by_role(gen, attn)
    assert roles[-1] < overall - 0.15
    assert roles[1] > overall + 0.05 and roles[0] > overall + 0.05
    assert abs(roles[1] - roles[0]) < 0.03
    # With mask_power the masking inside the kept patches follows the attention too.
    guided = _mean_weight_by_role(
        AMTMaskGenerator(
            64, 8, 8, mask_ratio=0.45, throw_ratio=0.40, mask_power=1.0, throw_mode='least_first'),
        attn)
    assert guided[1] > guided[0] + 0.05 and guided[-1] < overall - 0.15
    # Versus the reference ('next'), whose visible patches are the least attended ones.
    nxt = _mean_weight_by_role(AMTMaskGenerator(64, 8, 8, mask_ratio=0.45, throw_ratio=0.40), attn)
    assert roles[0] > nxt[0] + 0.2
    # Exact counts, the same as the other modes.
    mask = gen(_results(64, attn))['mask']
    assert (mask == 1).sum() == 28 and (mask == -1).sum() == 26


def test_mask_power_zero_is_uniform_and_larger_power_steers_harder():
    attn = _gradient_map()
    overall = float(attn.mean())
    by_power = {
        p:
        _mean_weight_by_role(
            AMTMaskGenerator(64, 8, 8, mask_ratio=0.25, throw_ratio=0.40, mask_power=p), attn)
        for p in (0.0, 0.5, 1.0, 2.0)
    }
    assert abs(by_power[0.0][1] - overall) < 0.02
    assert abs(by_power[0.0][-1] - overall) < 0.02
    masked = [by_power[p][1] for p in (0.0, 0.5, 1.0, 2.0)]
    assert all(a < b - 0.03 for a, b in zip(masked, masked[1:])), masked
    # Uniform masking with least-attended throwing: only the throw follows the attention.
    gen = AMTMaskGenerator(
        64, 8, 8, mask_ratio=0.45, throw_ratio=0.40, mask_power=0.0, throw_mode='least')
    roles = _mean_weight_by_role(gen, attn)
    assert abs(roles[1] - overall) < 0.02 and roles[-1] < overall - 0.05


def test_ramp_scales_guidance_with_the_number_of_refreshes():
    attn = _gradient_map()
    gen = AMTMaskGenerator(64, 8, 8, mask_ratio=0.25, throw_ratio=0.40, ramp_refreshes=4)
    full = _mean_weight_by_role(AMTMaskGenerator(64, 8, 8, mask_ratio=0.25, throw_ratio=0.40), attn)
    masked = [_mean_weight_by_role(gen, attn, dict(amt_refreshes=k))[1] for k in (1, 2, 4, 9)]
    assert masked[0] < masked[1] < masked[2] - 0.02
    # From ramp_refreshes on, exactly the reference draw (same seed, same weights).
    assert masked[2] == pytest.approx(full[1]) and masked[3] == pytest.approx(full[1])


@pytest.mark.parametrize(
    'kwargs,key',
    [(dict(mask_power=-0.5), 'mask_power'), (dict(throw_power=9), 'throw_power'),
     (dict(throw_mode='most'), 'throw_mode'), (dict(ramp_refreshes=1.5), 'ramp_refreshes'),
     (dict(ramp_refreshes=-1), 'ramp_refreshes'),
     (dict(map_norm='softmax'), r"map_norm='softmax' must be one of \('minmax', 'max'\)")])
def test_guidance_options_are_checked(kwargs, key):
    with pytest.raises(ValueError, match=key):
        AMTMaskGenerator(64, 8, 8, **kwargs)
