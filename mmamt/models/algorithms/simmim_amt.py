"""SimMIM on a plain ViT, with attention-driven masking and throwing (AMT)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models import VisionTransformer
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from ..utils import (CLSAttentionMixin, MaskedPatchLossMixin, gather_tokens, kept_indices,
                     scatter_tokens)


@MODELS.register_module()
class AMTSimMIMViT(CLSAttentionMixin, VisionTransformer):
    """ViT for SimMIM(-AMT): absolute position embeddings and a learned mask token.

    Masked patches are replaced by the mask token, position embeddings are added, then thrown
    patches are removed from the sequence: the encoder sees [CLS] + visible + masked tokens.
    Plain SimMIM-ViT is this backbone fed masks with no thrown patch. The [CLS] attention for
    AMT comes from the same code as ``AMTMAEViT``'s.

    Args: see ``mmpretrain.models.VisionTransformer`` (``out_type`` defaults to ``'raw'``).
    """

    def __init__(self, *args, out_type: str = 'raw', **kwargs) -> None:
        super().__init__(*args, out_type=out_type, with_cls_token=True, **kwargs)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            trunc_normal_(self.mask_token, mean=0, std=.02)

    def _pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        return resize_pos_embed(self.pos_embed, self.patch_resolution, hw,
                                mode=self.interpolate_mode, num_extra_tokens=self.num_extra_tokens)

    def embed_all_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1 + L, C)``: [CLS] + all patches, position embeddings added, nothing masked."""
        tokens, hw = self.patch_embed(x)
        pos = self._pos_embed(hw)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        return self.pre_norm(self.drop_after_pos(torch.cat([cls, tokens + pos[:, 1:]], dim=1)))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
                ) -> Union[Tuple[torch.Tensor, ...], Tuple[torch.Tensor, torch.Tensor]]:
        """Encode the image with masked patches replaced and thrown patches removed.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            mask (torch.Tensor, optional): Token mask ``(B, L)`` or ``(B, h, w)``, 1 masked,
                -1 thrown, 0 visible. None extracts features of the full image as
                ``VisionTransformer`` does. Defaults to None.

        Returns:
            tuple: With a mask, ``(latent, token_mask)``: ``latent`` is
            ``(B, 1 + L_vis + L_mask, C)`` ([CLS] first, kept patches in ascending order) and
            ``token_mask`` the flat ``(B, L)`` int64 mask.
        """
        if mask is None:
            return super().forward(x)
        token_mask = mask.reshape(mask.shape[0], -1).long()
        tokens, hw = self.patch_embed(x)
        if token_mask.shape[1] != tokens.shape[1]:
            raise ValueError(f'token mask has {token_mask.shape[1]} entries per image but the '
                             f'image has {tokens.shape[1]} patches ({hw[0]}x{hw[1]})')
        w = (token_mask == 1).unsqueeze(-1).to(tokens.dtype)
        tokens = tokens * (1 - w) + self.mask_token.to(tokens.dtype) * w
        pos = self._pos_embed(hw)
        kept = gather_tokens(tokens + pos[:, 1:], kept_indices(token_mask))
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        latent = self.pre_norm(self.drop_after_pos(torch.cat([cls, kept], dim=1)))
        for layer in self.layers:
            latent = layer(latent)
        if self.final_norm:
            latent = self.ln1(latent)
        return latent, token_mask


@MODELS.register_module()
class AMTSimMIMLinearDecoder(nn.Module):
    """SimMIM's decoder per token: a linear map from each token to its ``p * p * 3`` pixels.

    This is what SimMIM's 1x1 conv + PixelShuffle computes on a square feature map, applied to
    the kept tokens directly, so any number of them works (no square reshape).

    Args:
        in_channels (int): Encoder width.
        encoder_stride (int): Pixels per token side (the ViT patch size).
    """

    def __init__(self, in_channels: int, encoder_stride: int) -> None:
        super().__init__()
        self.encoder_stride = encoder_stride
        self.decoder = nn.Linear(in_channels, encoder_stride**2 * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n, C)`` tokens to ``(B, n, p * p * 3)`` pixels (MAE's patchify order)."""
        return self.decoder(x)


@MODELS.register_module()
class SimMIMAMT(MaskedPatchLossMixin, BaseSelfSupervisor):
    """SimMIM with AMT on a ViT: `Good helper is around you: Attention-driven Masked Image
    Modeling <https://arxiv.org/abs/2211.15362>`_ (SimMIM: `<https://arxiv.org/abs/2111.09886>`_).

    The token mask comes from ``AMTMaskGenerator`` (32-px mask patches on the 16-px ViT). Each
    kept token is mapped to its pixels; the L1 loss covers the masked patches' pixels only, so
    thrown patches are neither encoded nor reconstructed. The head is mmpretrain's
    ``MAEPretrainHead`` (``norm_pix=False``, L1 ``PixelReconstructionLoss``), used as MAE-AMT
    uses it.
    """

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def predict_patches(self, inputs: torch.Tensor, token_mask: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pixel predictions of every kept (visible or masked) token on the full grid.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            token_mask (torch.Tensor): ``(B, L)`` or ``(B, h, w)``, 1 masked, -1 thrown,
                0 visible.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``(B, L, p * p * 3)`` predictions (zero at thrown
            patches) and the flat ``(B, L)`` token mask.
        """
        latent, token_mask = self.backbone(inputs, mask=token_mask)
        pred = self.neck(latent[:, 1:])  # (B, L_vis + L_mask, p*p*3)
        return scatter_tokens(pred, kept_indices(token_mask), token_mask.shape[1]), token_mask
