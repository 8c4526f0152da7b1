"""What mmamt registers into mmseg."""
from .mae_strict import MAEStrict, PretrainedKeyError

__all__ = ['MAEStrict', 'PretrainedKeyError']
