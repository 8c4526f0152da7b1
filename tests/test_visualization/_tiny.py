"""A tiny MAE-AMT / SimMIM-AMT config + checkpoint pair on the synthetic set."""
import importlib.util
import logging
import os.path as osp

import torch
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS

from ..test_engine._amt_runner import tiny_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def tiny_files(tmp_path, data_root, algo='mae', seed=0):
    """Write ``<algo>.py`` (a full training config) and ``<algo>.pth``; return their paths."""
    cfg = tiny_cfg(data_root, tmp_path / 'work', algo=algo)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
    try:
        model.init_weights()  # MAE's fixed sin-cos position embeddings are set here
    finally:
        logger.setLevel(level)
    ckpt = tmp_path / f'{algo}.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    config = tmp_path / f'{algo}.py'
    cfg.dump(str(config))
    return str(config), str(ckpt)


def load_tool(relpath):
    """Import a script under tools/ as a module (its main() runs in this process)."""
    path = osp.join(ROOT, relpath)
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
