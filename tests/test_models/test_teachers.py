"""EVA's and MILAN's feature teachers (a CLIP, ``FrozenCLIPTeacher``; a self-made ViT,
``FrozenViTTeacher``): kept as their checkpoint through ``init_weights``, frozen, and (with
``teacher_tokens='kept'``) run on the kept patches only."""
import copy

import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit
from mmamt.testing.tiny_teacher import write_tiny_clip, write_tiny_vit
from tests.test_engine._amt_runner import IMG, PATCH, tiny_model
from tests.test_models.test_mae_amt import make_mask, samples_of

GRID = IMG // PATCH
DEMO_INIT = [  # the demo MAE recipe's model-level init_cfg, which its EVA configs inherit
    dict(type='Xavier', layer='Linear', distribution='uniform'),
    dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return write_tiny_clip(
        str(tmp_path_factory.mktemp('teacher') / 'clip.pth'), IMG, PATCH, embed_dim=16)


#: FrozenViTTeacher's encoder in the tests: the tiny student's shape, 16 channels (the neck's
#: predict_feature_dim), a 4x4 grid.
VIT_ENCODER = dict(
    type='AMTMAEViT',
    arch=dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32),
    img_size=IMG,
    patch_size=PATCH)


@pytest.fixture(scope='module')
def vit_checkpoint(tmp_path_factory):
    return write_tiny_vit(str(tmp_path_factory.mktemp('teacher') / 'vit.pth'), VIT_ENCODER)


@pytest.fixture(params=['FrozenCLIPTeacher', 'FrozenViTTeacher'])
def teacher(request, checkpoint, vit_checkpoint):
    """(type, checkpoint) of each teacher that takes ``keep``."""
    return request.param, checkpoint if request.param == 'FrozenCLIPTeacher' else vit_checkpoint


def eva(checkpoint, teacher='FrozenCLIPTeacher', algo='eva', **kwargs):
    cfg = copy.deepcopy(tiny_model(algo, checkpoint))
    cfg['target_generator']['type'] = teacher
    if teacher == 'FrozenViTTeacher':
        cfg['target_generator'] = dict(
            type=teacher, checkpoint=checkpoint, encoder=copy.deepcopy(VIT_ENCODER))
    cfg.update(init_cfg=DEMO_INIT, **kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def teacher_drift(model, checkpoint):
    saved = torch.load(checkpoint, map_location='cpu')
    own = model.target_generator.tokenizer.state_dict()
    return max((own[k].float() - saved[k].float()).abs().max().item() for k in own)


def test_the_teacher_keeps_its_checkpoint_through_init_weights(checkpoint):
    # mmpretrain's CLIPGenerator is re-initialised by the algorithm's init_cfg ...
    assert teacher_drift(eva(checkpoint, teacher='CLIPGenerator'), checkpoint) > 0.1
    # ... FrozenCLIPTeacher is its checkpoint after init_weights, frozen and in eval mode.
    model = eva(checkpoint)
    assert teacher_drift(model, checkpoint) == 0
    model.train()
    assert not model.target_generator.training
    assert not any(p.requires_grad for p in model.target_generator.parameters())
    assert all(p.requires_grad for p in model.backbone.layers.parameters())


def test_a_checkpoint_that_lacks_weights_is_refused(checkpoint, tmp_path):
    model = eva(checkpoint)
    state = torch.load(checkpoint, map_location='cpu')
    state.pop('visual.proj')
    torch.save(state, tmp_path / 'short.pth')
    model.target_generator.tokenizer_path = str(tmp_path / 'short.pth')
    with pytest.raises(KeyError, match=r'model\.target_generator\.tokenizer_path.*visual\.proj'):
        model.target_generator.init_weights()


def test_kept_forward_is_the_full_forward_on_the_kept_patches(teacher):
    teacher = eva(teacher[1], teacher[0]).target_generator
    img = torch.randn(2, 3, IMG, IMG)
    full, _ = teacher(img)
    assert full.shape == (2, 1 + GRID * GRID, 16)
    # every patch, in any order: the full forward's features in that order
    order = torch.stack([torch.randperm(GRID * GRID) for _ in range(2)])
    kept, _ = teacher(img, keep=order)
    torch.testing.assert_close(kept[:, 0], full[:, 0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        kept[:, 1:], torch.stack([full[b, 1:][order[b]] for b in range(2)]), rtol=1e-4, atol=1e-5)
    # fewer patches: features of those positions, no longer those of the whole image
    part, _ = teacher(img, keep=order[:, :5])
    assert part.shape == (2, 6, 16)
    assert not torch.allclose(part[:, 1:], kept[:, 1:6], rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize('algo', ['eva', 'milan'])
def test_kept_teacher_targets_ignore_thrown_pixels(teacher, algo):
    """teacher_tokens='kept': the masked targets are the teacher's on [CLS] + visible + masked,
    so the thrown patches' pixels change nothing; with 'all' they do."""
    mask = make_mask(2, GRID, n_mask=6, n_throw=5)
    split = TokenSplit.from_mask(mask.flatten(1))
    img = torch.randn(2, 3, IMG, IMG)
    noisy = img.clone()
    for b in range(2):
        for p in split.thrown[b].tolist():
            r, c = divmod(p, GRID)
            noisy[b, :, r * PATCH:(r + 1) * PATCH, c * PATCH:(c + 1) * PATCH] += 3.0
    kept = eva(teacher[1], teacher[0], algo, teacher_tokens='kept')
    target = kept.masked_target(img, split)
    assert target.shape == (2, split.masked.shape[1], 16)
    torch.testing.assert_close(kept.masked_target(noisy, split), target)
    whole = eva(teacher[1], teacher[0], algo)
    assert not torch.allclose(whole.masked_target(noisy, split), whole.masked_target(img, split))
    assert torch.isfinite(kept.loss(img, samples_of(mask))['loss'])


@pytest.mark.parametrize('teacher_tokens', ['all', 'kept'])
def test_a_teacher_of_another_grid_is_refused(teacher, teacher_tokens):
    model = eva(teacher[1], teacher[0], teacher_tokens=teacher_tokens)
    split = TokenSplit.from_mask(make_mask(2, 2 * GRID, n_mask=20, n_throw=10).flatten(1))
    with pytest.raises(
            ValueError,
            match=f'gives {GRID * GRID} patch features per image but the '
            f'student has {4 * GRID * GRID}'):
        model.masked_target(torch.randn(2, 3, IMG, IMG), split)


def test_bad_teacher_tokens_are_refused(checkpoint):
    with pytest.raises(ValueError, match=r"model\.teacher_tokens='some'"):
        eva(checkpoint, teacher_tokens='some')
    with pytest.raises(TypeError, match='CLIPGenerator'):
        eva(checkpoint, teacher='CLIPGenerator', teacher_tokens='kept')


def test_the_vit_teacher_is_its_checkpoint_frozen(vit_checkpoint):
    model = eva(vit_checkpoint, 'FrozenViTTeacher')  # the demo init_cfg ran over it
    saved = torch.load(vit_checkpoint, map_location='cpu')['state_dict']
    own = model.target_generator.encoder.state_dict()
    assert len(own) > 10 and all(torch.equal(v, saved['backbone.' + k]) for k, v in own.items())
    model.train()
    assert not model.target_generator.training
    assert not any(p.requires_grad for p in model.target_generator.parameters())
    assert model.target_generator.num_patches == GRID * GRID


def test_the_vit_teacher_refuses_a_short_checkpoint_and_a_foreign_encoder(vit_checkpoint, tmp_path):
    state = torch.load(vit_checkpoint, map_location='cpu')
    state['state_dict'].pop('backbone.ln1.weight')
    torch.save(state, tmp_path / 'short.pth')
    with pytest.raises(KeyError, match=r'model\.target_generator\.checkpoint=.*ln1\.weight'):
        eva(str(tmp_path / 'short.pth'), 'FrozenViTTeacher')
    with pytest.raises(TypeError, match=r"encoder\.type='VisionTransformer'"):
        MODELS.build(
            dict(
                type='FrozenViTTeacher',
                checkpoint=vit_checkpoint,
                encoder=dict(VIT_ENCODER, type='VisionTransformer')))


def test_the_vit_teacher_gives_milan_its_cls_attention(vit_checkpoint):
    """Row 0 of the attention: the last block's [CLS] query over [CLS] and the patches, averaged
    over the heads; it sums to 1 and is what mmpretrain's MILAN samples its mask from."""
    model = eva(vit_checkpoint, 'FrozenViTTeacher')
    teacher = model.target_generator
    img = torch.randn(2, 3, IMG, IMG)
    features, attention = teacher(img)
    assert features.shape == (2, 1 + GRID * GRID, 16)
    assert attention.shape == (2, 1, 1 + GRID * GRID)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 1))
    probs = teacher.encoder.cls_attention(img).mean(1)  # the AMT map's own routine
    torch.testing.assert_close(attention[:, 0, 1:], probs)
    milan = copy.deepcopy(tiny_model('milan', None))  # mmpretrain's MILAN, as the digits config
    milan.update(
        type='MILAN',
        target_generator=dict(
            type='FrozenViTTeacher', checkpoint=vit_checkpoint, encoder=VIT_ENCODER))
    milan['backbone']['type'] = 'MILANViT'
    milan['neck']['type'] = 'MILANPretrainDecoder'
    loss = MODELS.build(milan).loss(img, samples_of(make_mask(2, GRID, n_mask=6, n_throw=0)))
    assert torch.isfinite(loss['loss'])
