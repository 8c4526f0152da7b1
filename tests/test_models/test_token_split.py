"""TokenSplit and AMTDataPreprocessor: masks split once on the CPU, loss over masked patches."""
import pytest
import torch
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit, scatter_tokens
from tests.test_engine._amt_runner import tiny_model
from tests.test_models.test_mae_amt import make_mask, samples_of


def test_split_counts_are_checked_once_with_clear_errors():
    mask = torch.cat([make_mask(1, 4, 7, 6), make_mask(1, 4, 8, 6)])
    with pytest.raises(ValueError, match='different numbers of visible.*AMTMaskGenerator'):
        TokenSplit.from_mask(mask)
    with pytest.raises(ValueError, match='must be 1 .*got \\[-1, 0, 1, 2\\]'):
        TokenSplit.from_mask(torch.tensor([[1, 0, -1, 2]]))
    with pytest.raises(ValueError, match='no visible patch'):
        TokenSplit.from_mask(torch.tensor([[1, -1, 1, -1]]))
    split = TokenSplit.from_mask(make_mask(3, 4, 7, 6))
    assert [t.shape for t in split] == [(3, 3), (3, 7), (3, 6)] and split.num_patches == 16
    # every patch exactly once per sample
    assert torch.equal(torch.cat(list(split), 1).sort(1).values, torch.arange(16).expand(3, 16))


@pytest.mark.parametrize('algo', ['mae', 'simmim'])
def test_preprocessor_hands_the_split_with_the_images(algo):
    cfg = tiny_model(algo)
    cfg['data_preprocessor'] = dict(cfg['data_preprocessor'], type='AMTDataPreprocessor')
    model = MODELS.build(cfg)
    grid = 4 if algo == 'mae' else 8
    mask = make_mask(2, grid, n_mask=grid * grid // 2, n_throw=grid * grid // 4)
    samples = samples_of(mask)
    raw = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    out = model.data_preprocessor(dict(inputs=raw, data_samples=samples), True)
    assert set(out) == {'inputs', 'data_samples', 'token_split'}
    split = out['token_split']
    assert isinstance(split, TokenSplit)
    assert torch.equal(split.token_mask(), mask.reshape(2, -1))
    # the samples stay on the CPU as they came (no B small transfers per step)
    assert out['data_samples'] is samples
    # the Runner path (forward(**data, mode='loss')) and the direct call agree
    model.eval()
    loss = model(**out, mode='loss')['loss']
    torch.testing.assert_close(loss, model.loss(out['inputs'], samples)['loss'])
    # batches without masks pass through as SelfSupDataPreprocessor's
    plain = model.data_preprocessor(dict(inputs=raw, data_samples=None), False)
    assert set(plain) == {'inputs', 'data_samples'}


@pytest.mark.parametrize('algo', ['mae', 'simmim'])
def test_loss_equals_the_full_grid_masked_average(algo):
    """The loss over the masked predictions is the head's full-grid loss averaged over masks."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model(algo)).eval()
    grid = 4 if algo == 'mae' else 8
    mask = make_mask(2, grid, n_mask=grid * grid // 2, n_throw=grid * grid // 4)
    img = torch.randn(2, 3, 32, 32)
    split = TokenSplit.from_mask(mask)
    loss = model.loss(img, token_split=split)['loss']
    full = scatter_tokens(model.predict_masked(img, split), split.masked, grid * grid)
    ref = model.head.loss(full, img, (mask.reshape(2, -1) == 1).float())
    torch.testing.assert_close(loss, ref)
    # the visualiser's full grid is the same scatter
    pred, token_mask = model.predict_patches(img, mask)
    torch.testing.assert_close(pred, full)
    assert torch.equal(token_mask, mask.reshape(2, -1))


def test_every_amt_config_splits_on_the_cpu():
    """A config that falls back to SelfSupDataPreprocessor would sync every step on a GPU."""
    from pathlib import Path

    from mmengine.config import Config
    root = Path(__file__).resolve().parents[2] / 'configs'
    amt = []
    for path in sorted(root.rglob('*.py')):
        if '_base_' in path.parts or 'benchmarks' in path.parts:
            continue
        cfg = Config.fromfile(str(path))
        if cfg.model.type in ('MAEAMT', 'SimMIMAMT'):
            pre = cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor')
            assert pre.type == 'AMTDataPreprocessor', path.name
            amt.append(path.name)
    assert len(amt) >= 12  # MAE-AMT and SimMIM-AMT for 5 data sets, the SimMIM baselines, demos
