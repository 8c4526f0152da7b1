from .attention_bank import AttentionBank, dataset_identity
from .transforms import *  # noqa: F401,F403

__all__ = ['AttentionBank', 'dataset_identity']
