"""The attention refresh never forms the N x N attention of the last block.

Moved here from the benchmark tool: every output of every op on the refresh path is recorded
with a ``TorchDispatchMode``; none may be ``(..., N, N)`` over the N tokens.
"""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import mmamt  # noqa: F401
from mmamt.analysis import count_flops
from mmamt.models.utils import cls_attention_probs, normalize_attention


class ShapeRecorder(TorchDispatchMode):
    """Records the output shape of every op."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: List[Tuple[int, ...]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.shapes += [tuple(t.shape) for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        return out

    def square(self, n: int) -> List[Tuple[int, ...]]:
        return [s for s in self.shapes if len(s) >= 2 and s[-2:] == (n, n)]


class CLSAttentionPath(nn.Module):
    """What the refresh computes in the last block: the CLS row only, normalised."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return normalize_attention(cls_attention_probs(self.layer, tokens))


def test_recorder_sees_a_materialised_attention():
    """The check can fail: a naive attention is caught."""
    q = torch.randn(2, 4, 17, 8)
    with ShapeRecorder() as rec:
        (q @ q.transpose(-2, -1)).softmax(-1)
    assert rec.square(17)


@torch.no_grad()
def test_refresh_path_has_no_nxn_intermediate():
    torch.manual_seed(0)
    backbone = MODELS.build(
        dict(
            type='AMTMAEViT',
            img_size=64,
            patch_size=16,
            arch=dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=128)))
    backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    tokens = backbone.layers[0](backbone.embed_all_tokens(x))
    n = tokens.shape[1]
    assert n == 17
    with ShapeRecorder() as rec_cls:
        CLSAttentionPath(backbone.layers[-1])(tokens)
    with ShapeRecorder() as rec_pass:
        backbone.attention_map(x)
    assert rec_cls.shapes and not rec_cls.square(n)
    assert not rec_pass.square(n)
    # and the CLS row costs a fraction of the full last block
    ratio = (
        count_flops(CLSAttentionPath(backbone.layers[-1]),
                    (tokens, )) / count_flops(backbone.layers[-1], (tokens, )))
    assert 0 < ratio < 0.5
