"""Small model helpers (to unwrap DDP, use ``mmpretrain.utils.get_ori_model``)."""
import contextlib
from typing import Iterator

import torch.nn as nn


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (no drop path / dropout) and restore its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
