"""mmamt: AMT (attention-driven masking and throwing) for OpenMMLab.

``import mmamt`` (or ``custom_imports=dict(imports=['mmamt'])`` in a config) registers the
pre-training modules into mmpretrain's registries and makes OpenMMLab checkpoints loadable under
torch's ``weights_only`` default (see :mod:`mmamt.utils.checkpoint`). It needs only torch,
mmengine, mmcv (mmcv-lite is enough) and mmpretrain. What mmamt registers into mmdet and mmseg
lives in :mod:`mmamt.downstream.det` and :mod:`mmamt.downstream.seg`, which their configs import
(``custom_imports=dict(imports=['mmamt.downstream.det'])``); test and demo data live in
:mod:`mmamt.testing`.
"""
from .utils.checkpoint import register_safe_globals
from .version import __version__

register_safe_globals()

from . import datasets, engine, models, visualization  # noqa: E402,F401  (registers)

__all__ = ['__version__', 'register_safe_globals']
