from .mae_amt import MAEAMT, AMTMAEViT

__all__ = ['AMTMAEViT', 'MAEAMT']
