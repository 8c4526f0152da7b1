from .attention_bank import AttentionBank, dataset_identity
from .synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset
from .transforms import *  # noqa: F401,F403

__all__ = ['AttentionBank', 'dataset_identity', 'SYNTHETIC_CLASSES', 'make_synthetic_dataset']
