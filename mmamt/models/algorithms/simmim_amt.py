"""SimMIM on a plain ViT, with attention-driven masking and throwing (AMT)."""
import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models import VisionTransformer
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS

from ..utils import MaskTokensEncoderMixin, MaskTokensMIMMixin


@MODELS.register_module()
class AMTSimMIMViT(MaskTokensEncoderMixin, VisionTransformer):
    """ViT for SimMIM(-AMT): absolute position embeddings and a learned mask token.

    Masked patches are replaced by the mask token, position embeddings are added, then thrown
    patches are removed from the sequence: the encoder sees [CLS] + visible + masked tokens
    (``forward(x, token_split)``, see :class:`~mmamt.models.utils.MaskTokensEncoderMixin`).
    Plain SimMIM-ViT is this backbone fed masks with no thrown patch.

    Args: see ``mmpretrain.models.VisionTransformer`` (``out_type`` defaults to ``'raw'``).
    """

    def __init__(self, *args, out_type: str = 'raw', **kwargs) -> None:
        super().__init__(*args, out_type=out_type, with_cls_token=True, **kwargs)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))

    def init_weights(self) -> None:
        super().init_weights()
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
            trunc_normal_(self.mask_token, mean=0, std=.02)


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
class SimMIMAMT(MaskTokensMIMMixin, BaseSelfSupervisor):
    """SimMIM with AMT on a ViT: `Good helper is around you: Attention-driven Masked Image
    Modeling <https://arxiv.org/abs/2211.15362>`_ (SimMIM: `<https://arxiv.org/abs/2111.09886>`_).

    The token mask comes from ``AMTMaskGenerator`` (32-px mask patches on the 16-px ViT) and
    reaches the model as a ``TokenSplit`` from ``AMTDataPreprocessor``. Each masked token is
    mapped to its pixels; the L1 loss covers the masked patches' pixels only, so thrown patches
    are neither encoded nor reconstructed. The head is mmpretrain's
    ``MAEPretrainHead`` (``norm_pix=False``, L1 ``PixelReconstructionLoss``), used as MAE-AMT
    uses it.
    """
