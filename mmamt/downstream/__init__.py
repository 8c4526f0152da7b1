"""What mmamt registers into mmdet (``det``) and mmseg (``seg``)."""
from . import det, seg  # noqa: F401
