from .attention_bank import AttentionBank
from .synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset
from .transforms import *  # noqa: F401,F403

__all__ = ['AttentionBank', 'SYNTHETIC_CLASSES', 'make_synthetic_dataset']
