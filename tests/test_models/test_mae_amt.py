import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit, normalize_attention

ARCH = dict(embed_dims=48, num_layers=2, num_heads=3, feedforward_channels=96)


def build_model(img_size=32, patch_size=8, norm_pix=True):
    num_patches = (img_size // patch_size)**2
    model = MODELS.build(
        dict(
            type='MAEAMT',
            backbone=dict(type='AMTMAEViT', arch=ARCH, img_size=img_size, patch_size=patch_size),
            neck=dict(
                type='AMTMAEPretrainDecoder',
                num_patches=num_patches,
                patch_size=patch_size,
                embed_dim=48,
                decoder_embed_dim=32,
                decoder_depth=1,
                decoder_num_heads=2),
            head=dict(
                type='MAEPretrainHead',
                norm_pix=norm_pix,
                patch_size=patch_size,
                loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    model.init_weights()
    return model.eval()


def make_mask(B, grid, n_mask, n_throw, seed=0):
    g = torch.Generator().manual_seed(seed)
    masks = []
    for _ in range(B):
        order = torch.randperm(grid * grid, generator=g)
        m = torch.zeros(grid * grid, dtype=torch.long)
        m[order[:n_mask]] = 1
        m[order[n_mask:n_mask + n_throw]] = -1
        masks.append(m.reshape(grid, grid))
    return torch.stack(masks)


def samples_of(mask):
    out = []
    for m in mask:
        s = DataSample()
        s.set_mask(m)
        out.append(s)
    return out


def perturb(img, mask, value, patch):
    """Add noise to the pixels of the patches where ``mask == value``."""
    img = img.clone()
    g = torch.Generator().manual_seed(123)
    for b in range(img.shape[0]):
        for idx in torch.nonzero(mask[b].reshape(-1) == value).flatten().tolist():
            r, c = divmod(idx, mask.shape[-1])
            sl = (b, slice(None), slice(r * patch,
                                        (r + 1) * patch), slice(c * patch, (c + 1) * patch))
            img[sl] += torch.randn(img[sl].shape, generator=g)
    return img


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = build_model()
    img = torch.randn(2, 3, 32, 32)
    mask = make_mask(2, 4, n_mask=7, n_throw=6)  # 3 visible of 16
    return model, img, mask


def test_encoder_ignores_masked_and_thrown_pixels(setup):
    model, img, mask = setup
    split = TokenSplit.from_mask(mask)
    latent = model.backbone(img, token_split=split)
    assert latent.shape == (2, 1 + 3, 48)
    for value in (1, -1):
        latent2 = model.backbone(perturb(img, mask, value, 8), token_split=split)
        torch.testing.assert_close(latent, latent2)
    latent3 = model.backbone(perturb(img, mask, 0, 8), token_split=split)
    assert not torch.allclose(latent, latent3)


def test_loss_depends_on_masked_not_thrown_pixels(setup):
    model, img, mask = setup
    loss = model.loss(img, samples_of(mask))['loss']
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss_thrown = model.loss(perturb(img, mask, -1, 8), samples_of(mask))['loss']
    loss_masked = model.loss(perturb(img, mask, 1, 8), samples_of(mask))['loss']
    assert torch.equal(loss, loss_thrown)
    assert not torch.isclose(loss, loss_masked)


def test_loss_gradient_reaches_encoder_and_decoder(setup):
    model, img, mask = setup
    model.train()
    model.loss(img, samples_of(mask))['loss'].backward()
    assert model.backbone.layers[0].attn.qkv.weight.grad.abs().sum() > 0
    assert model.neck.mask_token.grad.abs().sum() > 0


def test_decoder_sequence_is_cls_visible_masked(setup):
    model, img, mask = setup
    seen = []
    handle = model.neck.decoder_blocks[0].register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].shape[1]))
    split = TokenSplit.from_mask(mask)
    pred = model.neck(model.backbone(img, token_split=split), split)
    handle.remove()
    assert seen == [1 + 3 + 7]
    assert pred.shape == (2, 7, 8 * 8 * 3)


def test_decoder_prediction_follows_position_not_order(setup):
    """The masked prediction of a patch depends on which patch it is (own pos embedding)."""
    model, img, mask = setup
    split = TokenSplit.from_mask(mask)
    pred = model.neck(model.backbone(img, token_split=split), split)
    assert not torch.allclose(pred[:, 0], pred[:, 1])


def test_unequal_counts_in_a_batch_are_refused(setup):
    model, img, _ = setup
    mask = torch.cat([make_mask(1, 4, 7, 6), make_mask(1, 4, 8, 6)])
    with pytest.raises(ValueError, match='different numbers'):
        model.loss(img, samples_of(mask))


def test_missing_mask_is_refused(setup):
    model, img, _ = setup
    with pytest.raises(KeyError, match='AMTMaskGenerator'):
        model.loss(img, [DataSample(), DataSample()])


def test_state_dict_matches_mmpretrain_mae():
    amt = build_model()
    mae = MODELS.build(
        dict(
            type='MAE',
            backbone=dict(type='MAEViT', arch=ARCH, img_size=32, patch_size=8),
            neck=dict(
                type='MAEPretrainDecoder',
                num_patches=16,
                patch_size=8,
                embed_dim=48,
                decoder_embed_dim=32,
                decoder_depth=1,
                decoder_num_heads=2),
            head=dict(
                type='MAEPretrainHead',
                patch_size=8,
                loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    assert {k: v.shape for k, v in amt.state_dict().items()} == \
        {k: v.shape for k, v in mae.state_dict().items()}


def test_cls_attention_matches_full_attention_row():
    torch.manual_seed(0)
    model = build_model()
    backbone = model.backbone
    img = torch.randn(2, 3, 32, 32)
    probs = backbone.cls_attention(img)
    assert probs.shape == (2, 3, 16)
    # reference: the full N x N attention of the last block, row 0, CLS column dropped
    tokens = backbone.embed_all_tokens(img)
    for layer in backbone.layers[:-1]:
        tokens = layer(tokens)
    last = backbone.layers[-1]
    h = last.ln1(tokens)
    qkv = last.attn.qkv(h).reshape(2, 17, 3, 3, 16).permute(2, 0, 3, 1, 4)
    full = (qkv[0] @ qkv[1].transpose(-2, -1) * 16**-0.5).softmax(-1)
    torch.testing.assert_close(probs, full[:, :, 0, 1:], rtol=1e-4, atol=1e-6)
    amap = backbone.attention_map(img)
    assert amap.shape == (2, 4, 4)
    assert amap.min() >= 0 and amap.max() <= 1
    # the encoder's own output is unaffected by the attention pass (no state)
    assert torch.isfinite(amap).all()


def test_normalize_attention_handles_nan_and_constant_rows():
    probs = torch.rand(3, 2, 10)
    probs[1] = float('nan')
    probs[2] = 0.1
    with pytest.warns(UserWarning, match='not finite'):
        out = normalize_attention(probs)
    assert torch.isfinite(out).all()
    assert out[0].max() > 0.5 and torch.all(out[1] == out[1][0]) and torch.all(out[2] == 0)


def test_normalize_attention_max_keeps_the_attention_ratios():
    # Two heads over 4 patches; the [CLS] key took the rest of each row's probability.
    probs = torch.tensor([[[0.1, 0.2, 0.2, 0.4], [0.05, 0.05, 0.1, 0.1]],
                          [[0.2, 0.2, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]]])
    out = normalize_attention(probs, 'max')
    # head 1 renormalised: 1/9, 2/9, 2/9, 4/9; head 2: 1/6, 1/6, 2/6, 2/6; mean, / max
    avg = torch.tensor([1 / 9 + 1 / 6, 2 / 9 + 1 / 6, 2 / 9 + 2 / 6, 4 / 9 + 2 / 6]) / 2
    torch.testing.assert_close(out[0], avg / avg.max())
    # A flat attention gives a flat map: uniform sampling weights, no steering ...
    torch.testing.assert_close(out[1], torch.ones(4))
    # ... where min-max stretches the faintest preference to the full [0, 1] range.
    nearly_flat = torch.tensor([[[0.2, 0.2, 0.2, 0.201]]])
    assert normalize_attention(nearly_flat, 'max').min() > 0.99
    torch.testing.assert_close(
        normalize_attention(nearly_flat, 'minmax'),
        torch.tensor([[0.0, 0.0, 0.0, 1.0]]),
        atol=1e-3,
        rtol=0)
    # Non-finite and all-zero rows fall back to uniform maps.
    bad = torch.tensor([[[float('nan'), 0.1, 0.1, 0.1]], [[0.0, 0.0, 0.0, 0.0]]])
    with pytest.warns(UserWarning, match='not finite'):
        torch.testing.assert_close(normalize_attention(bad, 'max'), torch.ones(2, 4))
    with pytest.raises(ValueError, match="map_norm='sum'.*minmax"):
        normalize_attention(probs, 'sum')


@pytest.mark.parametrize('img_size,patch_size,arch', [(48, 16, 's'), (40, 8, ARCH)])
def test_other_archs_and_grids(img_size, patch_size, arch):
    backbone = MODELS.build(
        dict(type='AMTMAEViT', arch=arch, img_size=img_size, patch_size=patch_size))
    grid = img_size // patch_size
    L = grid * grid
    mask = make_mask(1, grid, n_mask=L // 2, n_throw=L // 4)
    latent = backbone(torch.randn(1, 3, img_size, img_size), token_split=TokenSplit.from_mask(mask))
    assert latent.shape[1] == 1 + L - L // 2 - L // 4
    assert backbone.attention_map(torch.randn(1, 3, img_size, img_size)).shape == (1, grid, grid)


def test_token_split_orders():
    mask = torch.tensor([[1, 0, -1, 0, 1, -1]])
    vis, msk, thr = TokenSplit.from_mask(mask)
    assert vis.tolist() == [[1, 3]] and msk.tolist() == [[0, 4]] and thr.tolist() == [[2, 5]]
    assert torch.equal(TokenSplit(vis, msk, thr).token_mask(), mask)


def test_full_image_features_without_mask():
    model = build_model()
    out = model.extract_feat(torch.randn(1, 3, 32, 32))
    assert out[0].shape == (1, 17, 48)


def test_cls_attention_is_float32_under_autocast():
    torch.manual_seed(0)
    model = build_model()
    img = torch.randn(2, 3, 32, 32)
    ref = model.backbone.cls_attention(img)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        probs = model.backbone.cls_attention(img)
    assert probs.dtype == torch.float32
    torch.testing.assert_close(probs, ref, atol=2e-2, rtol=0.1)  # bf16 only upstream of q, k


def test_backbone_draws_no_random_mask_of_its_own():
    """One contract for both AMT backbones: a TokenSplit or None, never MAEViT's mask=True."""
    model = build_model()
    img = torch.randn(2, 3, 32, 32)
    features = model.backbone(img)  # like VisionTransformer: a tuple of out_indices outputs
    assert isinstance(features, tuple) and features[-1].shape[0] == 2
    with pytest.raises(TypeError, match='TokenSplit'):
        model.backbone(img, mask=True)
