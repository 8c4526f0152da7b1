from .eva_amt import EVAAMT
from .mae_amt import MAEAMT, AMTMAEViT
from .maskfeat_amt import AMTMaskFeatViT, MaskFeatAMT
from .mff_amt import MFFAMT, AMTMFFViT
from .milan_amt import MILANAMT
from .simmim_amt import AMTSimMIMLinearDecoder, AMTSimMIMViT, SimMIMAMT

__all__ = [
    'AMTMAEViT', 'MAEAMT', 'AMTSimMIMViT', 'AMTSimMIMLinearDecoder', 'SimMIMAMT', 'AMTMFFViT',
    'MFFAMT', 'AMTMaskFeatViT', 'MaskFeatAMT', 'EVAAMT', 'MILANAMT'
]
