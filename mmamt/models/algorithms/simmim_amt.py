"""SimMIM on a plain ViT, with attention-driven masking and throwing (AMT)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models import VisionTransformer
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

from ..utils import CLSAttentionMixin, MaskedPatchLossMixin, TokenSplit, gather_tokens


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
        return resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)

    def embed_all_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1 + L, C)``: [CLS] + all patches, position embeddings added, nothing masked."""
        tokens, hw = self.patch_embed(x)
        pos = self._pos_embed(hw)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        return self.pre_norm(self.drop_after_pos(torch.cat([cls, tokens + pos[:, 1:]], dim=1)))

    def forward(self,
                x: torch.Tensor,
                mask: Optional[TokenSplit] = None) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Encode the image with masked patches replaced and thrown patches removed.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            mask (TokenSplit, optional): The batch's split into visible, masked and thrown
                patches. None extracts features of the full image as ``VisionTransformer``
                does. Defaults to None.

        Returns:
            torch.Tensor: With a split, ``(B, 1 + L_vis + L_mask, C)``: [CLS], the visible
            patches (order of ``mask.visible``), then the mask tokens of the masked patches
            (order of ``mask.masked``).
        """
        if mask is None:
            return super().forward(x)
        tokens, hw = self.patch_embed(x)
        if mask.num_patches != tokens.shape[1]:
            raise ValueError(f'the token split covers {mask.num_patches} patches per image but '
                             f'the image has {tokens.shape[1]} ({hw[0]}x{hw[1]})')
        pos = self._pos_embed(hw)
        # A masked patch is the mask token plus its own position embedding; its pixels are
        # never read. The encoder is permutation-equivariant, so visible-then-masked order is as
        # good as patch order and keeps the masked tokens in one contiguous slice.
        visible = gather_tokens(tokens + pos[:, 1:], mask.visible)
        masked = self.mask_token.to(tokens.dtype) + gather_tokens(pos[:, 1:], mask.masked)
        cls = (self.cls_token + pos[:, :1]).expand(tokens.shape[0], -1, -1)
        latent = self.pre_norm(self.drop_after_pos(torch.cat([cls, visible, masked], dim=1)))
        for layer in self.layers:
            latent = layer(latent)
        if self.final_norm:
            latent = self.ln1(latent)
        return latent


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

    The token mask comes from ``AMTMaskGenerator`` (32-px mask patches on the 16-px ViT) and
    reaches the model as a ``TokenSplit`` from ``AMTDataPreprocessor``. Each masked token is
    mapped to its pixels; the L1 loss covers the masked patches' pixels only, so thrown patches
    are neither encoded nor reconstructed. The head is mmpretrain's
    ``MAEPretrainHead`` (``norm_pix=False``, L1 ``PixelReconstructionLoss``), used as MAE-AMT
    uses it.
    """

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs, mask=None)

    def predict_masked(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """Pixel predictions of the masked tokens (the only ones the loss reads).

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            split (TokenSplit): The batch's split.

        Returns:
            torch.Tensor: ``(B, L_mask, p * p * 3)``, in the order of ``split.masked``.
        """
        latent = self.backbone(inputs, mask=split)
        return self.neck(latent[:, 1 + split.visible.shape[1]:])
