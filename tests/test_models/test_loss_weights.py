"""AttG's map-weighted loss (``AMTMaskGenerator(loss_weight_temperature=...)``): what the loss
does and does not depend on, and the weights' way from the pipeline to the loss."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.datasets.transforms import AMTMaskGenerator
from mmamt.models.utils import TokenSplit
from mmamt.utils.amt_config import check_amt_wiring
from .test_mae_amt import build_model, make_mask, perturb, samples_of

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = build_model()
    img = torch.randn(2, 3, 32, 32)
    mask = make_mask(2, 4, n_mask=8, n_throw=2)
    return model, img, mask


def _loss(model, img, mask, weights=None):
    split = TokenSplit.from_mask(mask)
    with torch.no_grad():
        return model.loss(img, token_split=split, patch_weight=weights)['loss']


def test_uniform_weights_give_the_unweighted_loss(setup):
    model, img, mask = setup
    ones = torch.ones(2, 16)
    assert torch.allclose(_loss(model, img, mask, ones), _loss(model, img, mask))
    assert torch.allclose(_loss(model, img, mask, 3 * ones), _loss(model, img, mask))


def test_the_loss_is_the_weighted_mean_over_masked_patches(setup):
    model, img, mask = setup
    split = TokenSplit.from_mask(mask)
    with torch.no_grad():
        pred = model.predict_masked(img, split)
        per_patch = ((pred - model.masked_target(img, split))**2).mean(-1)  # (B, L_mask)
    weights = torch.rand(2, 16) + 0.1
    w = torch.gather(weights, 1, split.masked)
    expected = (per_patch * w).sum() / w.sum()
    assert torch.allclose(_loss(model, img, mask, weights), expected, atol=1e-6)
    assert not torch.allclose(_loss(model, img, mask, weights), _loss(model, img, mask))


def test_weights_of_visible_and_thrown_patches_change_nothing(setup):
    model, img, mask = setup
    weights = torch.rand(2, 16) + 0.1
    other = weights.clone()
    other[mask.reshape(2, -1) != 1] = 50.0  # only masked patches' weights may matter
    assert torch.allclose(_loss(model, img, mask, weights), _loss(model, img, mask, other))


def test_a_patch_weighted_zero_teaches_nothing(setup):
    model, img, mask = setup
    flat = mask.reshape(2, -1)
    target = int(torch.nonzero(flat[0] == 1)[0])
    weights = torch.ones(2, 16)
    weights[0, target] = 0.0
    only = torch.zeros_like(mask)
    only[0].view(-1)[target] = 1  # that one patch of the first image
    noisy = perturb(img, only, 1, 8)
    # the pixels of that one masked patch move, its loss term does not count
    assert torch.allclose(_loss(model, img, mask, weights), _loss(model, noisy, mask, weights))
    assert not torch.allclose(_loss(model, img, mask), _loss(model, noisy, mask))


def test_direct_call_reads_the_weights_from_the_samples(setup):
    model, img, mask = setup
    weights = torch.rand(2, 16) + 0.1
    samples = samples_of(mask)
    for s, w in zip(samples, weights):
        s.set_field(w.reshape(4, 4).numpy(), 'patch_weight')
    with torch.no_grad():
        direct = model.loss(img, samples)['loss']
    assert torch.allclose(direct, _loss(model, img, mask, weights))


def test_the_preprocessor_hands_the_weights_to_the_model(setup):
    model, img, mask = setup
    pre = MODELS.build(dict(type='AMTDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]))
    samples = samples_of(mask)
    weights = torch.rand(2, 16)
    for s, w in zip(samples, weights):
        s.set_field(w.reshape(4, 4).numpy(), 'patch_weight')
    out = pre(dict(inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2, data_samples=samples))
    assert torch.allclose(out['patch_weight'], weights)
    samples[1] = samples_of(mask[1:])[0]  # one sample without weights
    with pytest.raises(ValueError, match='1 of 2 samples carry patch_weight'):
        pre(dict(inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2, data_samples=samples))


def test_weights_need_a_pixel_loss():
    model = build_model()
    model.head.loss_module = torch.nn.MSELoss()
    mask = make_mask(2, 4, n_mask=8, n_throw=0)
    with pytest.raises(TypeError, match='needs a pixel loss.*MSELoss'):
        model.loss(
            torch.randn(2, 3, 32, 32),
            token_split=TokenSplit.from_mask(mask),
            patch_weight=torch.ones(2, 16))


def _results(attn_map, active=True, view=(0.0, 0.0, 1.0, 1.0)):
    return dict(
        img=np.zeros((32, 32, 3), np.uint8),
        attn_map=attn_map,
        amt_active=active,
        amt_view=view,
        sample_idx=0)


def test_generator_weights_follow_the_map_and_the_temperature():
    attn = np.zeros((4, 4), np.float32)
    attn[1, 2] = 1.0
    gen = AMTMaskGenerator(32, 8, 8, mask_ratio=0.5, throw_ratio=0.0, loss_weight_temperature=0.5)
    w = gen(_results(attn))['patch_weight']
    assert w.shape == (4, 4) and w.dtype == np.float32
    assert np.isclose(w[1, 2], np.exp(2.0)) and np.allclose(np.delete(w.ravel(), 6), 1.0)
    flipped = gen(_results(attn, view=(1.0, 0.0, 0.0, 1.0)))['patch_weight']  # x0 > x1: h-flip
    assert np.isclose(flipped[1, 1], np.exp(2.0))  # the weight follows the flipped view
    # before AMT is active, and on a flat map, every patch counts the same
    assert (gen(_results(attn, active=False))['patch_weight'] == 1).all()
    assert (gen(_results(np.full((4, 4), 0.3, np.float32)))['patch_weight'] == 1).all()
    assert 'patch_weight' not in AMTMaskGenerator(32, 8, 8, 0.5, 0.0)(_results(attn))


@pytest.mark.parametrize('value', [0, -1.0, 101.0])
def test_generator_refuses_a_temperature_out_of_range(value):
    with pytest.raises(ValueError, match=r'loss_weight_temperature=.* must be in \(0, 100\]'):
        AMTMaskGenerator(32, 8, 8, 0.5, 0.0, loss_weight_temperature=value)


def test_a_config_that_does_not_pack_the_weights_is_refused():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'demo', 'mae-amt-attg_vit-tiny-p8_1xb32-40e_digits.py'))
    check_amt_wiring(cfg)
    cfg.train_dataloader.dataset.pipeline[-1] = dict(type='PackInputs')
    with pytest.raises(
            ValueError,
            match=r"loss_weight_temperature is set but PackInputs.*"
            r"algorithm_keys=\['patch_weight'\]"):
        check_amt_wiring(cfg)
