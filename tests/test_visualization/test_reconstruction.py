"""reconstruct(): masked patches from the model (norm_pix undone), the rest from the input."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit, gather_tokens
from mmamt.visualization import attention_maps, patches_to_images, reconstruct, unnormalize
from ..test_engine._amt_runner import tiny_model


def _inputs(model, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    h, w = model.backbone.input_size
    raw = torch.randint(0, 256, (batch, 3, h, w), generator=g, dtype=torch.uint8)
    return raw, model.data_preprocessor(dict(inputs=raw, data_samples=None), False)['inputs']


def _token_mask(batch, length, n_mask, n_throw, seed=0):
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(batch, length, dtype=torch.long)
    for b in range(batch):
        order = torch.randperm(length, generator=g)
        masks[b, order[:n_mask]] = 1
        masks[b, order[n_mask:n_mask + n_throw]] = -1
    return masks


def test_mae_perfect_prediction_undoes_norm_pix():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model('mae')).eval()
    assert model.head.norm_pix
    raw, inputs = _inputs(model)
    mask = _token_mask(2, 16, n_mask=8, n_throw=4)
    target = model.head.construct_target(inputs)  # per-patch normalised

    # A decoder that predicts the normalised target of each masked patch, in ascending order.
    def perfect(latent, split):
        return gather_tokens(target, split.masked)

    real = reconstruct(model, inputs, mask)
    model.neck.forward = perfect
    recon = reconstruct(model, inputs, mask)
    assert recon.shape == (2, 16, 8 * 8 * 3)
    torch.testing.assert_close(recon, model.head.patchify(inputs), atol=1e-3, rtol=0)
    # the real (untrained) decoder differs on masked patches only
    same = (real - model.head.patchify(inputs)).abs().amax(-1) < 1e-6
    assert same[mask != 1].all() and not same[mask == 1].any()
    # and back to the original uint8 pixels
    np.testing.assert_array_equal(
        unnormalize(model, patches_to_images(model, recon)),
        raw.flip(1).permute(0, 2, 3, 1).numpy())


def test_simmim_takes_masked_tokens_of_the_kept_sequence():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model('simmim')).eval()
    assert not model.head.norm_pix
    _, inputs = _inputs(model)
    mask = _token_mask(2, 64, n_mask=28, n_throw=16)
    target = model.head.patchify(inputs)
    seen = {}

    # Per masked token, its own pixels + 1: visible tokens must not leak into the output.
    def shifted(latent):
        seen['n'] = latent.shape[1]
        return gather_tokens(target, TokenSplit.from_mask(mask).masked) + 1

    model.neck.forward = shifted
    model.backbone.register_forward_hook(lambda mod, args, out: seen.update(encoder=out.shape[1]))
    recon = reconstruct(model, inputs, mask)
    assert seen['encoder'] == 1 + 64 - 16  # thrown tokens are not in the encoder sequence
    assert seen['n'] == 28  # the decoder maps the masked tokens only
    diff = recon - target
    assert torch.allclose(diff[mask == 1], torch.ones(1))
    assert torch.equal(diff[mask != 1], torch.zeros_like(diff[mask != 1]))


def test_attention_maps_and_unsupported_model():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model('mae')).train()
    _, inputs = _inputs(model)
    maps = attention_maps(model, inputs, 'minmax')
    assert maps.shape == (2, 4, 4) and maps.min() >= 0 and maps.max() <= 1
    assert model.training  # the mode is restored
    proportional = attention_maps(model, inputs, 'max')
    assert torch.allclose(proportional.flatten(1).amax(1), torch.ones(2))
    assert not torch.allclose(proportional, maps)
    plain = MODELS.build(
        dict(
            type='MAE',
            backbone=dict(
                type='MAEViT',
                arch=dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64),
                img_size=32,
                patch_size=8),
            neck=dict(
                type='MAEPretrainDecoder',
                num_patches=16,
                patch_size=8,
                embed_dim=32,
                decoder_embed_dim=32,
                decoder_depth=1,
                decoder_num_heads=2),
            head=dict(
                type='MAEPretrainHead',
                norm_pix=True,
                patch_size=8,
                loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    with pytest.raises(TypeError, match='AMT algorithms with a pixel target'):
        reconstruct(plain, inputs, _token_mask(2, 16, 8, 4))
