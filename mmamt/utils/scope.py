"""Build a config's modules in its own registry scope, whatever Runner ran before."""
from contextlib import contextmanager
from typing import Iterator

from mmengine.config import Config
from mmengine.registry import DefaultScope


@contextmanager
def config_scope(cfg: Config, default: str = 'mmpretrain') -> Iterator[None]:
    """Use ``cfg.default_scope`` (or ``default``) as the registry scope inside the block.

    mmengine keeps the scope of the last Runner process-wide; a tool that builds a pre-training
    model after, say, an mmdet Runner would otherwise look ``MAEAMT`` up in mmdet's registry.
    """
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or default):
        yield
