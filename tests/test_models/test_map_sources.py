"""Map sources: the default is AMT's map bit for bit, the others read what they claim."""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.engine.refresh import batch_maps
from mmamt.models.utils import (CLSAttentionMap, MapSource, PatchAttentionMap, build_map_source,
                                normalize_attention)
from mmamt.models.utils.map_sources import DEFAULT_SOURCE_RECORD
from .test_mae_amt import build_model


def full_attention(layer, tokens):
    """``(B, heads, N, N)`` softmax attention of one mmpretrain block, written out."""
    B, N, C = tokens.shape
    heads = layer.attn.num_heads
    qkv = layer.attn.qkv(layer.ln1(tokens)).reshape(B, N, 3, heads, C // heads)
    q, k = qkv.permute(2, 0, 3, 1, 4)[:2]
    return (q @ k.transpose(-2, -1) * (C // heads)**-0.5).softmax(-1)


def block_inputs(backbone, img):
    tokens, out = backbone.embed_all_tokens(img), []
    for layer in backbone.layers:
        out.append(tokens)
        tokens = layer(tokens)
    return out


def test_default_source_is_the_last_layer_cls_map():
    torch.manual_seed(0)
    backbone = build_model().backbone
    backbone.eval()
    img = torch.randn(2, 3, 32, 32)
    old = normalize_attention(backbone.cls_attention(img), 'minmax').reshape(2, 4, 4)
    for source in (None, 'CLSAttentionMap', dict(type='CLSAttentionMap',
                                                 layers=[-1]), DEFAULT_SOURCE_RECORD):
        assert torch.equal(backbone.attention_map(img, 'minmax', source), old)
    # older banks carry the string record: they resume with the same source
    for cfg in (None, dict(type='CLSAttentionMap')):
        assert build_map_source(cfg).record() == DEFAULT_SOURCE_RECORD


def test_cls_attention_of_several_layers_averages_their_heads():
    torch.manual_seed(0)
    backbone = build_model().backbone
    backbone.eval()
    img = torch.randn(2, 3, 32, 32)
    inputs = block_inputs(backbone, img)
    rows = CLSAttentionMap(layers=[0, -1]).rows(backbone, img)
    ref = torch.cat([full_attention(backbone.layers[i], inputs[i])[:, :, 0, 1:] for i in (0, 1)],
                    dim=1)
    torch.testing.assert_close(rows, ref, rtol=1e-4, atol=1e-6)
    two = backbone.attention_map(img, 'max', dict(type='CLSAttentionMap', layers=[0, -1]))
    assert not torch.allclose(two, backbone.attention_map(img, 'max'))
    assert build_map_source(dict(type='CLSAttentionMap', layers=[0, -1])).record() == dict(
        type='CLSAttentionMap', layers=[0, -1])


def test_patch_attention_is_the_attention_received_from_other_patches():
    torch.manual_seed(0)
    backbone = build_model().backbone
    backbone.eval()
    img = torch.randn(2, 3, 32, 32)
    full = full_attention(backbone.layers[-1], block_inputs(backbone, img)[-1])
    patch = full[:, :, 1:, 1:].clone()  # patch queries, patch keys
    patch.diagonal(dim1=-2, dim2=-1).zero_()
    ref = patch.sum(2) / 15
    rows = PatchAttentionMap().rows(backbone, img)
    torch.testing.assert_close(rows, ref, rtol=1e-4, atol=1e-6)
    assert rows.shape == (2, 3, 16)
    amap = backbone.attention_map(img, 'max', 'PatchAttentionMap')
    assert amap.shape == (2, 4, 4) and amap.amax() <= 1 and amap.amin() >= 0


def test_patch_attention_under_autocast_is_float32():
    torch.manual_seed(0)
    backbone = build_model().backbone
    backbone.eval()
    img = torch.randn(2, 3, 32, 32)
    ref = PatchAttentionMap().rows(backbone, img)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        rows = PatchAttentionMap().rows(backbone, img)
    assert rows.dtype == torch.float32
    torch.testing.assert_close(rows, ref, atol=2e-2, rtol=0.1)


def test_batch_maps_uses_the_source():
    torch.manual_seed(0)
    model = build_model()
    img = torch.randn(2, 3, 32, 32)
    cls = batch_maps(model, img, 'max')
    patch = batch_maps(model, img, 'max', source='PatchAttentionMap')
    assert cls.dtype == patch.dtype == torch.uint8 and cls.shape == patch.shape == (2, 4, 4)
    assert not torch.equal(cls, patch)


def test_bad_sources_are_refused_naming_the_key():
    backbone = build_model().backbone  # 2 blocks
    with pytest.raises(
            ValueError,
            match=r'map_source.layers=\[2\] of CLSAttentionMap: 2 must '
            r'be an integer in \[-2, 1\]'):
        build_map_source(dict(type='CLSAttentionMap', layers=[2])).check(backbone)
    with pytest.raises(ValueError, match=r'map_source.layers=\[-1, 1\] .* names a block twice'):
        build_map_source(dict(type='PatchAttentionMap', layers=[-1, 1])).check(backbone)
    with pytest.raises(ValueError, match=r'must name at least one block'):
        build_map_source(dict(type='CLSAttentionMap', layers=[])).check(backbone)
    with pytest.raises(ValueError, match=r'map_source.layers=-1 .* must be a list'):
        build_map_source(dict(type='CLSAttentionMap', layers=-1))
    with pytest.raises(
            ValueError,
            match=r"map_source.type='MAEViT' is not a registered map "
            r'source .*shipped: CLSAttentionMap, PatchAttentionMap'):
        build_map_source('MAEViT')
    with pytest.raises(ValueError, match=r"map_source.type='NoSuchMap' is not a registered"):
        build_map_source('NoSuchMap')
    with pytest.raises(ValueError, match=r'map_source=.* of PatchAttentionMap: .*heads'):
        build_map_source(dict(type='PatchAttentionMap', heads=[0]))
    with pytest.raises(ValueError, match='must be a registered type name'):
        build_map_source(3)


def test_a_user_source_registers_and_builds():

    @MODELS.register_module(force=True)
    class CentreMap(MapSource):

        def rows(self, backbone, x):
            L = backbone.patch_resolution[0] * backbone.patch_resolution[1]
            return torch.ones(x.shape[0], 1, L)

    source = build_map_source(dict(type='CentreMap'))
    assert source.record() == dict(type='CentreMap')
    amap = build_model().backbone.attention_map(torch.randn(1, 3, 32, 32), 'max', source)
    assert torch.equal(amap, torch.ones(1, 4, 4))


def _reference_losses(model, img, passes, seed, pixel_space=False):
    """Each patch's mean squared error over the passes that mask it, through the model's
    picture path (``predict_patches`` on the full grid), not the source's own loop."""
    B, L = img.shape[0], 16
    gen = torch.Generator().manual_seed(seed)
    target = model.head.construct_target(img)
    var = model.head.patchify(img).var(dim=-1) + 1e-6
    total, count = torch.zeros(B, L), torch.zeros(B, L)
    for b in range(B):
        order = torch.randperm(L, generator=gen)
        group = torch.empty(L, dtype=torch.long)
        group[order] = torch.arange(L) * passes // L
        for p in range(passes):
            mask = (group != p).long()[None]
            pred, _ = model.predict_patches(img[b:b + 1], mask)
            err = ((pred - target[b:b + 1])**2).mean(-1)[0]
            if pixel_space:
                err = err * var[b]
            total[b] += err * mask[0]
            count[b] += mask[0]
    return total / count


@pytest.mark.parametrize('pixel_space', [False, True])
def test_reconstruction_loss_is_the_error_of_each_masked_patch(pixel_space):
    from mmamt.models.utils import ReconstructionLossMap
    torch.manual_seed(0)
    model = build_model()  # 16 patches
    img = torch.randn(2, 3, 32, 32)
    source = ReconstructionLossMap(passes=4, seed=3, pixel_space=pixel_space)
    with torch.no_grad():
        rows = source.loss_rows(model, img)
        ref = _reference_losses(model, img, 4, 3, pixel_space)
    assert rows.shape == (2, 1, 16)
    torch.testing.assert_close(rows[:, 0], ref, rtol=1e-4, atol=1e-6)
    maps = batch_maps(model, img, 'minmax', source=source)
    assert maps.shape == (2, 4, 4) and maps.max() == 255 and maps.min() == 0
    assert torch.equal(maps, batch_maps(model, img, 'minmax', source=source))  # seeded groups
    other = ReconstructionLossMap(passes=4, seed=4).loss_rows(model, img)
    assert not torch.allclose(other, ReconstructionLossMap(passes=4, seed=3).loss_rows(model, img))
    with pytest.raises(TypeError, match='needs the whole algorithm'):
        source.rows(model.backbone, img)
    # prefer='easy': the map turned round, the most predictable patch scores highest
    easy = ReconstructionLossMap(passes=4, seed=3, pixel_space=pixel_space, prefer='easy')
    with torch.no_grad():
        turned = easy.loss_rows(model, img)[:, 0]
    torch.testing.assert_close(turned, ref.amax(1, keepdim=True) - ref, rtol=1e-4, atol=1e-6)
    assert torch.equal(turned.argmax(1), ref.argmin(1))


def test_reconstruction_loss_refuses_what_it_cannot_read():
    from mmamt.models.utils import ReconstructionLossMap
    with pytest.raises(ValueError, match=r'map_source.passes=3 .* must divide the 16 patches'):
        ReconstructionLossMap(passes=3).check_model(build_model())
    for bad in (1, 2.0, True):
        with pytest.raises(ValueError, match='map_source.passes=.* integer >= 2'):
            ReconstructionLossMap(passes=bad)
    with pytest.raises(ValueError, match='pixel_space=True .* norm_pix=True'):
        ReconstructionLossMap(pixel_space=True).check_model(build_model(norm_pix=False))
    with pytest.raises(ValueError, match='needs an AMT algorithm .* got MAEViT'):
        ReconstructionLossMap().check_model(MODELS.build(dict(type='MAEViT', arch='s')))
    assert build_map_source(dict(type='ReconstructionLossMap', passes=2)).record() == dict(
        type='ReconstructionLossMap', passes=2, seed=0, pixel_space=False, prefer='hard')
    with pytest.raises(ValueError, match="map_source.prefer='low' .* must be 'hard' or 'easy'"):
        ReconstructionLossMap(prefer='low')


def _square_on_grain(seed=0, B=2, size=32, noise=1.0):
    """A bright 8x8 square filling patch (1, 2) of a 4x4 grid, per-pixel grain everywhere."""
    g = torch.Generator().manual_seed(seed)
    img = noise * torch.randn(B, 3, size, size, generator=g)
    img[:, :, 8:16, 16:24] += 3.0  # the patch at row 1, column 2
    return img


def test_lowpass_saliency_cuts_grain_and_keeps_a_region():
    from mmamt.models.utils import lowpass_saliency
    flat = torch.full((1, 3, 16, 16), 0.7)
    assert torch.allclose(lowpass_saliency(flat, 0.25), torch.zeros(1, 16, 16), atol=1e-5)
    grain = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    raw = (grain - grain.mean(dim=(-2, -1), keepdim=True)).norm(dim=1)
    # a low-pass of a quarter of Nyquist removes most of the per-pixel grain
    assert lowpass_saliency(grain, 0.25).mean() < 0.3 * raw.mean()
    assert lowpass_saliency(grain, 1.0).mean() > lowpass_saliency(grain, 0.25).mean()
    sal = lowpass_saliency(_square_on_grain(), 0.25)
    cells = torch.nn.functional.avg_pool2d(sal[:, None], 8).flatten(1)
    assert (cells.argmax(dim=1) == 1 * 4 + 2).all()


def test_frequency_map_alone_reads_the_image_not_the_weights():
    from mmamt.models.utils import FrequencyGuidedMap
    img = _square_on_grain()
    source = build_map_source(dict(type='FrequencyGuidedMap', attention=None, weight=1))
    torch.manual_seed(0)
    a = build_model()
    torch.manual_seed(1)
    b = build_model()
    amap = a.backbone.attention_map(img, 'minmax', source)
    assert amap.shape == (2, 4, 4) and amap.amin() >= 0 and amap.amax() <= 1
    assert torch.equal(amap, b.backbone.attention_map(img, 'minmax', source))
    assert torch.equal(source.maps(a, img, 'minmax'), amap)
    assert (amap.flatten(1).argmax(dim=1) == 6).all() and torch.allclose(
        amap[:, 1, 2], torch.ones(2))
    assert isinstance(source, FrequencyGuidedMap)
    assert source.record() == dict(
        type='FrequencyGuidedMap', attention=None, weight=1.0, cutoff=0.25)


def test_frequency_guided_map_blends_the_two_maps():
    torch.manual_seed(0)
    model = build_model()
    img = _square_on_grain(noise=0.5)
    freq = build_map_source(dict(type='FrequencyGuidedMap', attention=None, weight=1))
    for norm in ('minmax', 'max'):
        cls = model.backbone.attention_map(img, norm)
        for weight in (0.25, 0.5):
            source = build_map_source(dict(type='FrequencyGuidedMap', weight=weight))
            ref = (1 - weight) * cls + weight * freq(model.backbone, img, norm)
            torch.testing.assert_close(model.backbone.attention_map(img, norm, source), ref)
            torch.testing.assert_close(source.maps(model, img, norm), ref)
    # the blended source is any source, here one that needs the whole algorithm
    loss = build_map_source(
        dict(type='FrequencyGuidedMap', attention=dict(type='ReconstructionLossMap', passes=2)))
    maps = batch_maps(model, img, 'minmax', source=loss)
    assert maps.dtype == torch.uint8 and maps.shape == (2, 4, 4)
    record = loss.record()
    assert record['attention'] == dict(
        type='ReconstructionLossMap', passes=2, seed=0, pixel_space=False, prefer='hard')
    assert build_map_source(record).record() == record  # a bank's record rebuilds it


def test_frequency_guided_map_refuses_bad_settings_naming_the_key():
    from mmamt.models.utils import FrequencyGuidedMap
    for key, bad in (('weight', 0), ('weight', 1.5), ('weight', True), ('cutoff', 0), ('cutoff',
                                                                                       '0.2')):
        with pytest.raises(ValueError, match=rf'map_source.{key}=.* must be a number in \(0, 1\]'):
            FrequencyGuidedMap(**{key: bad})
    with pytest.raises(ValueError, match=r'weight=0.5 .* must be 1 with attention=None'):
        FrequencyGuidedMap(attention=None)
    with pytest.raises(ValueError, match='not another FrequencyGuidedMap'):
        FrequencyGuidedMap(attention=dict(type='FrequencyGuidedMap'))
    with pytest.raises(ValueError, match=r'layers=\[5\] of CLSAttentionMap'):
        FrequencyGuidedMap(attention=dict(type='CLSAttentionMap', layers=[5])).check_model(
            build_model())
    with pytest.raises(TypeError, match='not rows'):
        FrequencyGuidedMap().rows(build_model().backbone, torch.zeros(1, 3, 32, 32))
