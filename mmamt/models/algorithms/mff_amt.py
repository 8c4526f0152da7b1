"""MFF (MAE with multi-level feature fusion) with attention-driven masking and throwing."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup.mff import MFF, MFFViT
from mmpretrain.registry import MODELS

from ..utils import TokenSplit, VisibleTokensEncoderMixin, VisibleTokensMIMMixin


@MODELS.register_module()
class AMTMFFViT(VisibleTokensEncoderMixin, MFFViT):
    """MFF's encoder on AMT's input: [CLS] + visible patches, levels fused as ``MFFViT`` does.

    The outputs of the blocks in ``out_indices`` are projected (all but the last), weighted by a
    softmax over ``proj_weights`` and summed before the final norm. Same parameters and
    state-dict keys as mmpretrain's ``MFFViT``. Full-image features (``token_split=None``) are
    ``VisionTransformer``'s, unfused and unmasked.

    Args: see ``mmpretrain.models.MFFViT``.
    """

    def fusion_weights(self) -> torch.Tensor:
        """``(len(out_indices),)`` softmax weights of the fused levels."""
        return F.softmax(self.proj_weights.view(-1), dim=0)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        levels = []
        last = self.out_indices[-1]
        for i, layer in enumerate(self.layers):
            tokens = layer(tokens)
            if i in self.out_indices:
                proj = tokens if i == last else self.proj_layers[self.out_indices.index(i)](tokens)
                levels.append(proj)
        weights = self.fusion_weights().to(tokens.dtype).view(-1, 1, 1, 1)
        return self.norm1((torch.stack(levels) * weights).sum(dim=0))


@MODELS.register_module()
class MFFAMT(VisibleTokensMIMMixin, MFF):
    """MFF with AMT (MFF: `Improving Pixel-based MIM by Reducing Wasted Modeling Capability
    <https://arxiv.org/abs/2308.00261>`_; AMT: `<https://arxiv.org/abs/2211.15362>`_).

    MAE-AMT with ``AMTMFFViT`` as encoder: the throwing neck, the pixel loss over the masked
    patches only. As ``MFF`` does, the loss dict also logs the fusion weights
    (``weight_0``, ``weight_1``, ...).
    """

    def loss(self,
             inputs: torch.Tensor,
             data_samples: Optional[List] = None,
             token_split: Optional[TokenSplit] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        losses = super().loss(inputs, data_samples, token_split=token_split, **kwargs)
        weights = self.backbone.fusion_weights().detach()
        losses.update({f'weight_{i}': w for i, w in enumerate(weights)})
        return losses
