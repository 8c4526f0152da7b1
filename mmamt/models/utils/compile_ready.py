"""Small fixes that keep upstream modules free of torch.compile graph breaks."""
import torch.nn as nn
from mmcv.cnn.bricks.drop import DropPath


def plain_drop_probs(module: nn.Module) -> None:
    """Turn the ``drop_prob`` of every ``DropPath`` in ``module`` into a Python float.

    mmpretrain's ViTs take each layer's rate from ``np.linspace``; dynamo traces a numpy scalar
    as a tensor, so mmcv's ``if drop_prob == 0.`` becomes data-dependent branching and breaks the
    graph once per layer. The values are unchanged.
    """
    for m in module.modules():
        if isinstance(m, DropPath):
            m.drop_prob = float(m.drop_prob)
