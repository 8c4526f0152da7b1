"""Compile-ready: no graph break in the AMT forward, and mmengine's ``compile=True`` trains.

SLOW: the Runner tests compile with inductor on the CPU (gcc), about 1 to 2 minutes each on a
busy 2-core machine. The models are the tiny ones of the engine tests (32 px, 2 layers of 32
dims), the runs 2 epochs of 5 steps (random masking, then AMT after a refresh), static shapes
(``dynamic=False``: two shapes, two compiles).
"""
import pytest
import torch
import torch._dynamo
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.models.utils import TokenSplit
from mmamt.testing.tiny_teacher import write_tiny_clip
from tests.test_engine._amt_runner import SIZES, tiny_cfg, tiny_model
from tests.test_models.test_mae_amt import make_mask


@pytest.mark.parametrize('algo', ['mae', 'simmim', 'mff', 'maskfeat', 'eva'])
def test_forward_and_loss_have_no_graph_break(algo, tmp_path):
    torch.manual_seed(0)
    teacher = write_tiny_clip(str(tmp_path / 'clip.pth'), 32, 8, embed_dim=16)
    model = MODELS.build(tiny_model(algo, teacher)).train()
    img_size, patch, _ = SIZES[algo]
    grid = img_size // patch
    split = TokenSplit.from_mask(make_mask(2, grid, grid * grid // 2, grid * grid // 4))
    img = torch.randn(2, 3, img_size, img_size)

    def step(inputs, token_split):
        return model(inputs, mode='loss', token_split=token_split)['loss']

    torch._dynamo.reset()
    explain = torch._dynamo.explain(step)(img, split)
    assert explain.graph_break_count == 0, explain.break_reasons
    assert explain.graph_count == 1


def _losses(synthetic_root, work_dir, algo, compile):
    cfg = tiny_cfg(
        synthetic_root, work_dir, max_epochs=2, start_epoch=1, interval=1, num_workers=0, algo=algo)
    cfg.model.data_preprocessor.type = 'AMTDataPreprocessor'
    cfg.default_hooks.checkpoint.interval = 10
    cfg.compile = dict(dynamic=False) if compile else False
    cfg.experiment_name = f'{algo}_compile_{compile}'  # own message hub, even in one second
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.message_hub.get_scalar('train/loss').data[0]


@pytest.mark.parametrize('algo', ['mae', 'simmim'])
def test_runner_compile_trains_like_eager(synthetic_root, tmp_path, algo):
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    eager = _losses(synthetic_root, tmp_path / 'eager', algo, False)
    assert not torch._dynamo.utils.counters['stats']['unique_graphs']
    compiled = _losses(synthetic_root, tmp_path / 'compiled', algo, True)
    assert torch._dynamo.utils.counters['stats']['unique_graphs'] >= 2  # it did compile
    assert len(eager) == len(compiled) == 10  # 40 images, batch 8, 2 epochs (AMT in the 2nd)
    torch.testing.assert_close(torch.tensor(compiled), torch.tensor(eager), rtol=1e-3, atol=1e-4)
