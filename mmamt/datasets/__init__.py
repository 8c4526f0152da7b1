from .attention_bank import AttentionBank
from .transforms import *  # noqa: F401,F403

__all__ = ['AttentionBank']
