"""Small helpers for models that may be wrapped (DDP) or in training mode."""
import contextlib
from typing import Iterator

import torch.nn as nn
from mmengine.model import is_model_wrapper


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP / FSDP wrapper, or the model itself."""
    return model.module if is_model_wrapper(model) else model


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (no drop path / dropout) and restore its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)
