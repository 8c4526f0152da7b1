"""MAE with attention-driven masking and throwing (AMT)."""
from typing import Optional, Tuple, Union

import torch
from mmpretrain.models.selfsup.mae import MAE, MAEViT
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from ..utils import (CLSAttentionMixin, MaskedPatchLossMixin, gather_tokens, scatter_tokens,
                     split_token_mask)


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
        pos = resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
                               mode=self.interpolate_mode, num_extra_tokens=1)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens + pos[:, 1:]], dim=1)

    def forward(self, x: torch.Tensor, mask: Optional[Union[bool, torch.Tensor]] = True
                ) -> Union[Tuple[torch.Tensor, ...], Tuple[torch.Tensor, torch.Tensor]]:
        """Encode the visible patches, or the whole image when ``mask`` is None.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            mask (torch.Tensor | bool | None): The token mask ``(B, L)`` or ``(B, h, w)`` with
                1 masked, -1 thrown, 0 visible. ``None`` (or False) extracts features of the
                full image like ``VisionTransformer``; ``True`` falls back to MAE's random
                masking. Defaults to True.

        Returns:
            tuple: With a token mask, ``(latent, token_mask)``: ``latent`` is
            ``(B, 1 + L_vis, C)`` ([CLS] first, visible patches in ascending order) and
            ``token_mask`` the flat ``(B, L)`` int64 mask.
        """
        if mask is None or mask is False:
            return super(MAEViT, self).forward(x)
        if mask is True:
            return super().forward(x, mask=True)
        token_mask = mask.reshape(mask.shape[0], -1).long()
        tokens, hw = self.patch_embed(x)
        if token_mask.shape[1] != tokens.shape[1]:
            raise ValueError(f'token mask has {token_mask.shape[1]} entries per image but the '
                             f'image has {tokens.shape[1]} patches ({hw[0]}x{hw[1]})')
        pos = resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
                               mode=self.interpolate_mode, num_extra_tokens=1)
        ids_visible, _, _ = split_token_mask(token_mask)
        visible = gather_tokens(tokens + pos[:, 1:], ids_visible)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        latent = torch.cat([cls, visible], dim=1)
        for layer in self.layers:
            latent = layer(latent)
        return self.norm1(latent), token_mask


@MODELS.register_module()
class MAEAMT(MaskedPatchLossMixin, MAE):
    """MAE with AMT: `Good helper is around you: Attention-driven Masked Image Modeling
    <https://arxiv.org/abs/2211.15362>`_.

    The token mask of each sample (1 masked, -1 thrown, 0 visible) comes from the data pipeline
    (``AMTMaskGenerator``). The encoder sees the visible patches, the throwing neck
    (``AMTMAEPretrainDecoder``) adds mask tokens at the masked positions only, and the pixel loss
    covers the masked patches only: thrown patches cost nothing and teach nothing.
    """

    def predict_patches(self, inputs: torch.Tensor, token_mask: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The decoder's pixel predictions, placed at their patches of the full grid.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            token_mask (torch.Tensor): ``(B, L)`` or ``(B, h, w)``, 1 masked, -1 thrown,
                0 visible.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``(B, L, p * p * 3)`` predictions (in the head's
            target space, zero where nothing is predicted: visible and thrown patches) and the
            flat ``(B, L)`` token mask.
        """
        latent, token_mask = self.backbone(inputs, mask=token_mask)
        pred = self.neck(latent, token_mask)  # (B, L_mask, p*p*3)
        _, ids_masked, _ = split_token_mask(token_mask)
        return scatter_tokens(pred, ids_masked, token_mask.shape[1]), token_mask
