"""Dataloaders inherited through ``mmpretrain::`` build and collate (the ``_scope_`` trap)."""
import copy

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmamt  # noqa: F401
from mmamt.utils import resolve_scoped_collate_fns

UPSTREAM_MAE = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'


def _tiny_loader(cfg: Config, synthetic_root) -> dict:
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=str(synthetic_root / 'imagenet'), split='train')
    return loader


def test_scoped_collate_fn_is_resolved_and_collates(synthetic_root, tmp_path):
    child = tmp_path / 'inherits_upstream_mae.py'
    child.write_text(f"_base_ = '{UPSTREAM_MAE}'\n")
    cfg = Config.fromfile(str(child))
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate', _scope_='mmpretrain')
    # What mmengine 0.10.7 does with it as inherited: the first batch fails.
    with pytest.raises(TypeError, match='_scope_'):
        next(iter(Runner.build_dataloader(_tiny_loader(cfg, synthetic_root))))

    resolve_scoped_collate_fns(cfg)
    assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
    batch = next(iter(Runner.build_dataloader(_tiny_loader(cfg, synthetic_root))))
    assert batch['inputs'].shape == (2, 3, 224, 224)


def test_unscoped_and_callable_collate_fns_are_left_alone():
    cfg = Config(
        dict(
            train_dataloader=dict(collate_fn=dict(type='pseudo_collate')),
            val_dataloader=dict(collate_fn=dict(type='mmdet.custom', _scope_='mmseg')),
            test_dataloader=None))
    resolve_scoped_collate_fns(cfg)
    assert cfg.train_dataloader.collate_fn == dict(type='pseudo_collate')
    # an explicit scope in the name wins; only the stray key goes
    assert cfg.val_dataloader.collate_fn == dict(type='mmdet.custom')
