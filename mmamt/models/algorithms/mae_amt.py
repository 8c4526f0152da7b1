"""MAE with attention-driven masking and throwing (AMT)."""
from typing import Optional, Tuple, Union

import torch
from mmpretrain.models.selfsup.mae import MAE, MAEViT
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from ..utils import CLSAttentionMixin, MaskedPatchLossMixin, TokenSplit, gather_tokens


@MODELS.register_module()
class AMTMAEViT(CLSAttentionMixin, MAEViT):
    """MAE's ViT encoder that takes its token mask from the data and exposes CLS attention.

    Masked and thrown patches are both left out of the encoder: it sees [CLS] plus the visible
    patches only. Which patch is which comes from ``AMTMaskGenerator`` in the data pipeline;
    this module never draws a mask of its own. Same parameters (and state-dict keys) as
    mmpretrain's ``MAEViT``, so any arch (s, b, l, h or a dict), image size and patch size work.

    Args: see ``mmpretrain.models.MAEViT``.
    """

    def embed_all_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch-embed ``x`` and prepend [CLS], with position embeddings, nothing masked.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.

        Returns:
            torch.Tensor: ``(B, 1 + L, C)``.
        """
        tokens, hw = self.patch_embed(x)
        pos = resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=1)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens + pos[:, 1:]], dim=1)

    def forward(self,
                x: torch.Tensor,
                mask: Optional[TokenSplit] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Encode the visible patches, or the whole image when ``mask`` is None.

        The same contract as ``AMTSimMIMViT.forward``. Unlike ``MAEViT`` there is no random
        masking of its own (``mask=True``): the mask always comes from the data.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            mask (TokenSplit, optional): The batch's split into visible, masked and thrown
                patches. None extracts features of the full image as ``VisionTransformer``
                does (a tuple of its ``out_indices`` outputs). Defaults to None.

        Returns:
            torch.Tensor: With a split, ``(B, 1 + L_vis, C)``: [CLS] first, then the visible
            patches in the order of ``mask.visible``.
        """
        if mask is None:
            return super(MAEViT, self).forward(x)
        if not isinstance(mask, TokenSplit):
            raise TypeError(f'AMTMAEViT takes its mask from the data as a TokenSplit (from '
                            f'AMTDataPreprocessor) or None, got {type(mask).__name__}; it draws '
                            'no random mask of its own')
        tokens, hw = self.patch_embed(x)
        if mask.num_patches != tokens.shape[1]:
            raise ValueError(f'the token split covers {mask.num_patches} patches per image but '
                             f'the image has {tokens.shape[1]} ({hw[0]}x{hw[1]})')
        pos = resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=1)
        visible = gather_tokens(tokens + pos[:, 1:], mask.visible)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        latent = torch.cat([cls, visible], dim=1)
        for layer in self.layers:
            latent = layer(latent)
        return self.norm1(latent)


@MODELS.register_module()
class MAEAMT(MaskedPatchLossMixin, MAE):
    """MAE with AMT: `Good helper is around you: Attention-driven Masked Image Modeling
    <https://arxiv.org/abs/2211.15362>`_.

    The token mask of each sample (1 masked, -1 thrown, 0 visible) comes from the data pipeline
    (``AMTMaskGenerator``). The encoder sees the visible patches, the throwing neck
    (``AMTMAEPretrainDecoder``) adds mask tokens at the masked positions only, and the pixel loss
    covers the masked patches only: thrown patches cost nothing and teach nothing. Pair it with
    ``AMTDataPreprocessor``, which splits the masks on the CPU so that no step synchronises.
    """

    def predict_masked(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """The decoder's pixel predictions of the masked patches.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            split (TokenSplit): The batch's split.

        Returns:
            torch.Tensor: ``(B, L_mask, p * p * 3)`` in the head's target space, in the order
            of ``split.masked``.
        """
        return self.neck(self.backbone(inputs, mask=split), split)
