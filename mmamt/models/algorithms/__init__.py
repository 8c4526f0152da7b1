from .mae_amt import MAEAMT, AMTMAEViT
from .simmim_amt import AMTSimMIMLinearDecoder, AMTSimMIMViT, SimMIMAMT

__all__ = ['AMTMAEViT', 'MAEAMT', 'AMTSimMIMViT', 'AMTSimMIMLinearDecoder', 'SimMIMAMT']
