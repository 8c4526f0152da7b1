import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit
from tests.test_engine._amt_runner import tiny_model
from tests.test_models.test_mae_amt import make_mask, perturb, samples_of

# tiny_model('simmim'): 32 px, patch 4 -> 8x8 tokens


def mask_from_coarse(coarse, scale=2):
    return coarse.repeat_interleave(scale, 1).repeat_interleave(scale, 2)


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model('simmim'))
    model.init_weights()
    model.eval()
    img = torch.randn(2, 3, 32, 32)
    # 32-px... here 8-px mask patches (4x4 grid) on the 4-px ViT, like SimMIM's 32 on 16
    mask = mask_from_coarse(make_mask(2, 4, n_mask=7, n_throw=5))  # 28 masked, 20 thrown
    return model, img, mask


def test_encoder_length_is_cls_visible_masked(setup):
    model, img, mask = setup
    latent = model.backbone(img, token_split=TokenSplit.from_mask(mask))
    assert latent.shape == (2, 1 + 16 + 28, 32)


def test_encoder_ignores_masked_and_thrown_pixels(setup):
    model, img, mask = setup
    split = TokenSplit.from_mask(mask)
    latent = model.backbone(img, token_split=split)
    for value in (1, -1):
        latent2 = model.backbone(perturb(img, mask, value, 4), token_split=split)
        torch.testing.assert_close(latent, latent2)


def test_loss_depends_on_masked_not_thrown_pixels(setup):
    model, img, mask = setup
    loss = model.loss(img, samples_of(mask))['loss']
    assert torch.isfinite(loss)
    assert torch.equal(loss, model.loss(perturb(img, mask, -1, 4), samples_of(mask))['loss'])
    assert not torch.isclose(loss, model.loss(perturb(img, mask, 1, 4), samples_of(mask))['loss'])
    # visible pixels change the encoding, so they change the loss too (through context)
    assert not torch.isclose(loss, model.loss(perturb(img, mask, 0, 4), samples_of(mask))['loss'])


@pytest.mark.parametrize('n_mask,n_throw', [(8, 0), (5, 3), (3, 9), (1, 14)])
def test_any_ratio_works(setup, n_mask, n_throw):
    """The reference's square reshape works for one exact count only; here any count does."""
    model, img, _ = setup
    mask = mask_from_coarse(make_mask(2, 4, n_mask=n_mask, n_throw=n_throw))
    latent = model.backbone(img, token_split=TokenSplit.from_mask(mask))
    assert latent.shape[1] == 1 + 4 * (16 - n_throw)
    assert torch.isfinite(model.loss(img, samples_of(mask))['loss'])


def test_mask_token_replaces_masked_patches(setup):
    model, img, mask = setup
    model.train()
    model.loss(img, samples_of(mask))['loss'].backward()
    assert model.backbone.mask_token.grad.abs().sum() > 0
    assert model.backbone.layers[0].attn.gamma1.weight.grad is not None  # layer scale in use


def test_cls_attention_shared_with_mae(setup):
    from mmamt.models.algorithms.mae_amt import AMTMAEViT
    from mmamt.models.utils import CLSAttentionMixin
    model, img, _ = setup
    assert type(model.backbone).attention_map is CLSAttentionMixin.attention_map
    assert AMTMAEViT.attention_map is CLSAttentionMixin.attention_map
    amap = model.backbone.attention_map(img)
    assert amap.shape == (2, 8, 8) and amap.min() >= 0 and amap.max() <= 1


def test_full_image_features(setup):
    model, img, _ = setup
    out = model.extract_feat(img)
    assert out[0].shape == (2, 65, 32)
