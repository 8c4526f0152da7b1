"""Build a config's modules in its own registry scope, whatever Runner ran before."""
from contextlib import contextmanager
from typing import Iterator

from mmengine.config import Config
from mmengine.registry import FUNCTIONS, DefaultScope


@contextmanager
def config_scope(cfg: Config, default: str = 'mmpretrain') -> Iterator[None]:
    """Use ``cfg.default_scope`` (or ``default``) as the registry scope inside the block.

    mmengine keeps the scope of the last Runner process-wide; a tool that builds a pre-training
    model after, say, an mmdet Runner would otherwise look ``MAEAMT`` up in mmdet's registry.
    """
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or default):
        yield


DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def resolve_scoped_collate_fns(cfg: Config) -> Config:
    """Fold the ``_scope_`` of each dataloader's ``collate_fn`` into its type name.

    A config that inherits a dataloader from an installed package (``_base_ =
    'mmpretrain::...'``) gets ``_scope_='mmpretrain'`` on every inherited dict with a ``type``,
    ``collate_fn=dict(type='default_collate')`` included. mmengine 0.10.7's
    ``Runner.build_dataloader`` looks the function up and passes every other key on to it, so the
    first batch fails with ``default_collate() got an unexpected keyword argument '_scope_'``.
    The key is dropped, and the scope moves into the name (``'mmdet.my_collate'``) where that
    scope has a function registry of its own that knows the name; mmpretrain has none, so
    ``dict(type='default_collate', _scope_='mmpretrain')`` becomes ``dict(type='default_collate')``,
    mmengine's function, which is what the scope resolves to. The config stays plain and
    dumpable.

    Args:
        cfg (Config): A Runner config; changed in place.

    Returns:
        Config: The same config.
    """
    for key in DATALOADER_KEYS:
        loader = cfg.get(key)
        collate_fn = loader.get('collate_fn') if isinstance(loader, dict) else None
        if not isinstance(collate_fn, dict) or '_scope_' not in collate_fn:
            continue
        scope = collate_fn.pop('_scope_')
        fn_type = collate_fn.get('type')
        if isinstance(fn_type, str) and '.' not in fn_type and scope \
                and FUNCTIONS.get(f'{scope}.{fn_type}') is not None:
            collate_fn['type'] = f'{scope}.{fn_type}'
    return cfg
