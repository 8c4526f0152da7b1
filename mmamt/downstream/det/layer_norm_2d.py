"""Layer normalisation over the channels of a ``(B, C, H, W)`` map (``LN2d``)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import MODELS as MMENGINE_MODELS


@MMDET_MODELS.register_module('LN2d')
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel axis of a channels-first map, as ViTDet uses in its heads.

    Each spatial position is normalised over its ``C`` channels, so the result equals
    ``nn.LayerNorm(C)`` applied to the map permuted to ``(B, H, W, C)``.

    Registered as ``'LN2d'`` in mmdet's ``MODELS`` and in mmengine's root ``MODELS``:
    ``mmcv.cnn.build_norm_layer`` looks the type up in the registry of the current default scope
    and then in its parents, so ``norm_cfg=dict(type='LN2d')`` resolves in mmdet heads (scope
    ``mmdet``) and under any other scope or none (the root).

    Args:
        num_channels (int): The number of channels ``C``.
        eps (float): Added to the variance for numerical stability. Defaults to 1e-6.
        elementwise_affine (bool): Learn a per-channel scale and shift. Defaults to True.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6,
                 elementwise_affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=elementwise_affine)
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise every position over its channels.

        Args:
            x (torch.Tensor): A map of shape ``(B, C, H, W)``.

        Returns:
            torch.Tensor: The normalised map, ``(B, C, H, W)``.
        """
        if x.dim() != 4 or x.shape[1] != self.num_channels:
            raise ValueError(f'LN2d expects a (B, {self.num_channels}, H, W) map, got shape '
                             f'{tuple(x.shape)}')
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2).contiguous()


# The root registry is shared by every OpenMMLab package; another package may have claimed the
# name already, in which case its LN2d serves scopes outside mmdet and ours stays in mmdet's.
if 'LN2d' not in MMENGINE_MODELS.module_dict:
    MMENGINE_MODELS.register_module('LN2d', module=LayerNorm2d)
