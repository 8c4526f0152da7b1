"""EVA's feature teacher: kept as its checkpoint through ``init_weights``, frozen, and (with
``teacher_tokens='kept'``) run on the kept patches only."""
import copy

import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit
from mmamt.testing.tiny_teacher import write_tiny_clip
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


def eva(checkpoint, teacher='FrozenCLIPTeacher', **kwargs):
    cfg = copy.deepcopy(tiny_model('eva', checkpoint))
    cfg['target_generator']['type'] = teacher
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


def test_kept_forward_is_the_full_forward_on_the_kept_patches(checkpoint):
    teacher = eva(checkpoint).target_generator
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


def test_kept_teacher_targets_ignore_thrown_pixels(checkpoint):
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
    kept = eva(checkpoint, teacher_tokens='kept')
    target = kept.masked_target(img, split)
    assert target.shape == (2, split.masked.shape[1], 16)
    torch.testing.assert_close(kept.masked_target(noisy, split), target)
    whole = eva(checkpoint)
    assert not torch.allclose(whole.masked_target(noisy, split), whole.masked_target(img, split))
    assert torch.isfinite(kept.loss(img, samples_of(mask))['loss'])


@pytest.mark.parametrize('teacher_tokens', ['all', 'kept'])
def test_a_teacher_of_another_grid_is_refused(checkpoint, teacher_tokens):
    model = eva(checkpoint, teacher_tokens=teacher_tokens)
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
