"""Forward FLOPs of a pre-training step, with mmengine's ``FlopAnalyzer``."""
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape


def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention``: Q K^T and A V, one per multiply-add."""
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = int(np.prod(q[:-2]))
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def count_flops(module: nn.Module, inputs: Tuple) -> int:
    """Forward FLOPs of ``module(*inputs)`` (mmengine FlopAnalyzer + the SDPA handle, which
    mmengine does not count; one multiply-add = one FLOP, mmengine's convention)."""
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return int(analyzer.total())


class TrainingForward(nn.Module):
    """The training forward (data preprocessor output to loss) as a module of the images.

    Args:
        model (nn.Module): An mmpretrain self-supervised algorithm.
        extra (dict): The other outputs of its data preprocessor (``data_samples``,
            ``token_split``), held fixed.
    """

    def __init__(self, model: nn.Module, extra: dict) -> None:
        super().__init__()
        self.model = model
        self.extra = extra

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model(inputs, mode='loss', **self.extra)['loss']


def training_gflops(model: nn.Module, data: dict, n: int = 2) -> float:
    """Forward GFLOPs per image of ``model``'s training forward on the first ``n`` samples.

    Args:
        model (nn.Module): The algorithm, on its device.
        data (dict): A batch as the dataloader gives it (``inputs``, ``data_samples``).
        n (int): Images traced. Defaults to 2.

    Returns:
        float: GFLOPs per image.
    """
    batch = dict(inputs=data['inputs'][:n], data_samples=data['data_samples'][:n])
    batch = model.data_preprocessor(batch, True)
    inputs = batch.pop('inputs')
    was_training = model.training
    model.eval()  # no drop-path randomness while tracing; the FLOPs are the same
    try:
        return count_flops(TrainingForward(model, batch), (inputs, )) / n / 1e9
    finally:
        model.train(was_training)
