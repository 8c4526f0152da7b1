"""What mmamt registers into mmdet: the ViTDet-style backbone, its pyramid, LN2d, layer decay."""
from .layer_decay_optim_constructor import ViTLayerDecayOptimizerConstructor
from .layer_norm_2d import LayerNorm2d
from .simple_fpn import SimpleFPN
from .vitdet import PretrainedKeyError, ViTDetBackbone

__all__ = [
    'LayerNorm2d', 'PretrainedKeyError', 'SimpleFPN', 'ViTDetBackbone',
    'ViTLayerDecayOptimizerConstructor'
]
