"""mmamt: AMT (attention-driven masking and throwing) for OpenMMLab.

``import mmamt`` (or ``custom_imports=dict(imports=['mmamt'])`` in a config) registers every mmamt
module into the mmpretrain, mmdet and mmseg registries and makes OpenMMLab checkpoints loadable
under torch's ``weights_only`` default (see :mod:`mmamt.utils.checkpoint`).
"""
from .version import __version__
from .utils.checkpoint import register_safe_globals

register_safe_globals()

from . import datasets, downstream, engine, models, visualization  # noqa: E402,F401  (registers)

__all__ = ['__version__', 'register_safe_globals']
