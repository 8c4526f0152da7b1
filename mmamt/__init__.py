"""mmamt: AMT (attention-driven masking and throwing) for OpenMMLab."""
from .version import __version__

__all__ = ['__version__']
