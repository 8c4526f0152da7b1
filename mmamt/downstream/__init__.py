"""What mmamt registers into mmdet (``det``) and mmseg (``seg``), and the checkpoint converter."""
from . import det, seg  # noqa: F401
from .errors import PretrainedKeyError

__all__ = ['PretrainedKeyError']
