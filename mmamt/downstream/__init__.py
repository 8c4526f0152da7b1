"""Downstream use of mmamt's pre-training: what it registers into mmdet (:mod:`.det`) and mmseg
(:mod:`.seg`), the checkpoint converter (:mod:`.convert`) and the key maps they share
(:mod:`.keymap`).

Nothing is imported here, and ``import mmamt`` does not import this package: the configs that
need a subpackage import it (``custom_imports=dict(imports=['mmamt.downstream.det'])``), so that
pre-training needs neither mmdet, mmseg nor mmcv's compiled ops. The converter imports mmdet,
mmseg or timm only when converting for that target.
"""
