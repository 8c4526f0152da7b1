"""Every AMT algorithm against its mmpretrain original, through the two family extension points.

- With AMT off (nothing thrown, the upstream algorithm's own mask), each AMT version gives its
  upstream algorithm's loss on the same batch and weights, so AMT changes nothing else.
- The student never reads the pixels of masked or thrown patches, and reads the visible ones.
- The loss reads the target (pixels, HOG, a teacher's features) at the masked patches only.

Models are tiny (2 blocks, 32 channels); EVA's teacher is a tiny randomly initialised CLIP
(``mmamt.testing.tiny_teacher``), as no test may download CLIP.
"""
import copy

import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit
from mmamt.testing.tiny_teacher import write_tiny_clip
from tests.test_engine._amt_runner import SIZES, tiny_model
from tests.test_models.test_mae_amt import make_mask, perturb, samples_of

FEATURE_DIM = 16  # EVA: the teacher's output channels (tiny_model's predict_feature_dim)
ALGOS = ['eva', 'mae', 'maskfeat', 'mff', 'milan']
#: Each AMT registry name and its upstream original (parameters and keys are the same).
UPSTREAM = {
    'MAEAMT': 'MAE',
    'MFFAMT': 'MFF',
    'EVAAMT': 'EVA',
    'MILANAMT': 'MILAN',
    'MaskFeatAMT': 'MaskFeat',
    'AMTMAEViT': 'MAEViT',
    'AMTMFFViT': 'MFFViT',
    'AMTMaskFeatViT': 'MaskFeatViT',
    'AMTMAEPretrainDecoder': 'MAEPretrainDecoder',
    'AMTMILANPretrainDecoder': 'MILANPretrainDecoder',
}


def amt_cfg(name, teacher=None):
    """(config, img, patch) of the tiny AMT algorithm (the engine tests' ``tiny_model``)."""
    img, patch, _ = SIZES[name]
    return tiny_model(name, teacher), img, patch


def upstream_cfg(name, teacher=None):
    """(config, img, patch) of its mmpretrain original: the same, with upstream's types."""
    cfg, img, patch = amt_cfg(name, teacher)
    cfg = copy.deepcopy(cfg)
    for part in (cfg, cfg['backbone'], cfg['neck']):
        part['type'] = UPSTREAM.get(part['type'], part['type'])
    if name == 'milan':  # MILAN's encoder: MAE's with the teacher's attention as its mask
        cfg['backbone']['type'] = 'MILANViT'
    return cfg, img, patch


def build(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    return write_tiny_clip(
        str(tmp_path_factory.mktemp('teacher') / 'clip.pth'), 32, 8, embed_dim=FEATURE_DIM)


def upstream_loss_and_mask(model, img, samples):
    """The upstream loss, and the token mask (1 masked, 0 visible) it used."""
    backbone, seen = model.backbone, {}
    if hasattr(backbone, 'random_masking'):  # MAE-style: the encoder draws its own mask
        draw = backbone.random_masking

        def recording(x, ratio):
            out = draw(x, ratio)
            seen['mask'] = out[1].long()
            return out

        backbone.random_masking = recording
    losses = model.loss(img, samples)
    mask = seen['mask'] if seen else torch.stack([s.mask for s in samples]).flatten(1).long()
    return losses, mask


@pytest.mark.parametrize('name', [a for a in ALGOS if a != 'milan'])
def test_amt_off_gives_the_upstream_loss(name, teacher):
    """Same weights, same mask, nothing thrown: the AMT version's loss is upstream's.

    (MILAN's own loss covers every token, [CLS] and visible ones too; MILAN-AMT's the masked
    patches only, as every AMT algorithm's: ``test_milan_amt_decodes_as_milan`` instead.)"""
    torch.manual_seed(0)
    up_cfg, img_size, patch = upstream_cfg(name, teacher)
    upstream = build(up_cfg)
    amt = build(amt_cfg(name, teacher)[0])
    amt.load_state_dict(upstream.state_dict())  # strict: the same parameters and keys
    img = torch.randn(2, 3, img_size, img_size)
    grid = img_size // patch
    samples = samples_of(make_mask(2, grid, n_mask=grid * grid * 2 // 5, n_throw=0))
    up_losses, mask = upstream_loss_and_mask(upstream, img, samples)
    amt_losses = amt.loss(img, samples_of(mask.reshape(2, grid, grid)))
    assert set(amt_losses) == set(up_losses)  # MFF's fusion weights too
    for key, value in up_losses.items():
        torch.testing.assert_close(amt_losses[key], value, rtol=1e-5, atol=1e-6)


def target_source(model):
    """(module, attribute, leading tokens) of what gives the full-grid target."""
    if hasattr(model, 'target_generator') and model.target_generator is not None:
        lead = 1 if type(model).__name__ in ('EVAAMT', 'MILANAMT') else 0  # [CLS] first
        return model.target_generator, 'forward', lead
    return model.head, 'construct_target', 0


def noisy_target(model, monkeypatch, token_mask, role):
    """Add noise to the target of the patches of ``role`` (1 masked, -1 thrown)."""
    module, attr, lead = target_source(model)
    original = getattr(module, attr)

    def forward(inputs):
        out = original(inputs)
        feats = out[0] if isinstance(out, tuple) else out
        where = (token_mask.reshape(feats.shape[0], -1) == role).unsqueeze(-1)
        noise = torch.randn(feats.shape, generator=torch.Generator().manual_seed(5))
        feats = feats.clone()
        feats[:, lead:] += torch.where(where, noise[:, lead:], torch.zeros_like(noise[:, lead:]))
        return (feats, ) + tuple(out[1:]) if isinstance(out, tuple) else feats

    monkeypatch.setattr(module, attr, forward)


@pytest.fixture(params=ALGOS)
def amt_setup(request, teacher):
    torch.manual_seed(0)
    cfg, img_size, patch = amt_cfg(request.param, teacher)
    grid = img_size // patch
    model = build(cfg)
    img = torch.randn(2, 3, img_size, img_size)
    mask = make_mask(2, grid, n_mask=grid * grid * 2 // 5, n_throw=grid * grid // 4)
    return model, img, mask, patch


def test_student_reads_visible_pixels_only(amt_setup):
    model, img, mask, patch = amt_setup
    split = TokenSplit.from_mask(mask)
    pred = model.predict_masked(img, split)
    assert pred.shape[:2] == split.masked.shape
    for role in (1, -1):  # masked, thrown
        torch.testing.assert_close(
            model.predict_masked(perturb(img, mask, role, patch), split), pred)
    assert not torch.allclose(model.predict_masked(perturb(img, mask, 0, patch), split), pred)


@pytest.mark.parametrize('role,changes', [(-1, False), (0, False), (1, True)])
def test_loss_reads_the_target_of_masked_patches_only(amt_setup, monkeypatch, role, changes):
    model, img, mask, _ = amt_setup
    loss = model.loss(img, samples_of(mask))['loss']
    noisy_target(model, monkeypatch, mask, role)
    noisy = model.loss(img, samples_of(mask))['loss']
    assert (not torch.allclose(noisy, loss)) == changes


def test_maskfeat_refuses_a_grid_hog_cannot_make():
    cfg, _, _ = amt_cfg('maskfeat')
    cfg['backbone'].update(img_size=64, patch_size=8)  # 8x8 patches; HOG always gives 14x14
    cfg['target_generator'].update(pool=4, gaussian_window=8)
    model = build(cfg)
    mask = make_mask(1, 8, n_mask=20, n_throw=10)
    with pytest.raises(ValueError, match='14x14 grid'):
        model.loss(torch.randn(1, 3, 64, 64), samples_of(mask))


def test_milan_amt_decodes_as_milan(teacher):
    """Same weights and split, nothing thrown: MILAN-AMT's predictions of the masked patches are
    MILAN's at those patches (its prompting decoder included), and its loss is the cosine loss
    of those predictions against the teacher's features there."""
    torch.manual_seed(0)
    up_cfg, img_size, patch = upstream_cfg('milan', teacher)
    upstream = build(up_cfg)
    amt = build(amt_cfg('milan', teacher)[0])
    amt.load_state_dict(upstream.state_dict())
    img = torch.randn(2, 3, img_size, img_size)
    grid = img_size // patch
    split = TokenSplit.from_mask(make_mask(2, grid, n_mask=grid * grid * 2 // 5, n_throw=0))
    keep, dump = split.visible, split.masked
    restore = torch.argsort(torch.cat([keep, dump], dim=1), dim=1)
    latent = amt.backbone(img, token_split=split)
    full = upstream.neck(latent, restore, keep, dump)  # (B, 1 + L, D) in patch order
    expected = torch.gather(full[:, 1:], 1, dump.unsqueeze(-1).expand(-1, -1, full.shape[-1]))
    pred = amt.predict_masked(img, split)
    torch.testing.assert_close(pred, expected, rtol=1e-5, atol=1e-5)
    features, _ = amt.target_generator(img)
    target = torch.gather(features[:, 1:], 1, dump.unsqueeze(-1).expand(-1, -1, features.shape[-1]))
    torch.testing.assert_close(
        amt.loss(img, samples_of(split_mask(split, grid)))['loss'],
        amt.head.loss_module(pred, target))


def split_mask(split, grid):
    mask = torch.zeros(split.visible.shape[0], grid * grid, dtype=torch.long)
    mask.scatter_(1, split.masked, 1)
    return mask.reshape(-1, grid, grid)
