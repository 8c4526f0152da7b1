"""What mmamt registers into mmdet (:mod:`.det`) and mmseg (:mod:`.seg`), and the converter.

The subpackages are imported by the configs that need them
(``custom_imports=dict(imports=['mmamt.downstream.det'])``), never by ``import mmamt``, so that
pre-training needs neither mmdet, mmseg nor mmcv's compiled ops.
"""
from .errors import PretrainedKeyError

__all__ = ['PretrainedKeyError']
