"""Small model helpers (to unwrap DDP, use ``mmpretrain.utils.get_ori_model``)."""
import contextlib
import copy
import logging
from typing import Iterator, Optional

import torch
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


def build_model(cfg, checkpoint: Optional[str] = None, seed: Optional[int] = None) -> nn.Module:
    """The one way tools build a config's model: as the Runner builds and initialises it.

    ``cfg.model`` with the top-level ``data_preprocessor`` merged in (as the Runner does), built
    in the config's registry scope, initialised by ``init_weights`` (quietly: mmengine logs every
    parameter otherwise), then ``checkpoint`` loaded strictly, so a checkpoint of another
    architecture fails loudly instead of leaving part of the model random.

    Args:
        cfg (Config): The config.
        checkpoint (str, optional): Weights to load. Defaults to None (the initialisation).
        seed (int, optional): ``torch.manual_seed`` before building, for a reproducible
            initialisation. Defaults to None (the global generator as it is).

    Returns:
        nn.Module: The model, in training mode on the CPU.
    """
    from mmengine.logging import MMLogger
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    from .scope import config_scope
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    if seed is not None:
        torch.manual_seed(seed)
    with config_scope(cfg):
        model = MODELS.build(model_cfg)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    return model
