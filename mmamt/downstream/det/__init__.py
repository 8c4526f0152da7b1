"""What mmamt registers into mmdet: the ViTDet-style backbone, its pyramid, LN2d, layer decay.

Configs import it with ``custom_imports=dict(imports=['mmamt.downstream.det'])``.
"""
from .layer_decay_optim_constructor import ViTLayerDecayOptimizerConstructor
from .simple_fpn import SimpleFPN
from .vitdet import ViTDetBackbone, ViTDetLayer

__all__ = ['SimpleFPN', 'ViTDetBackbone', 'ViTDetLayer', 'ViTLayerDecayOptimizerConstructor']
