"""The throwing necks: MAE's and MILAN's decoders that never see thrown patches."""
from typing import Tuple

import torch
from mmpretrain.models.necks import MAEPretrainDecoder, MILANPretrainDecoder
from mmpretrain.registry import MODELS

from ..utils import TokenSplit, gather_tokens


def _decoder_tokens(neck: MAEPretrainDecoder, x: torch.Tensor,
                    split: TokenSplit) -> Tuple[torch.Tensor, torch.Tensor]:
    """The decoder's input: ``(B, 1 + L_vis, D)`` [CLS] + visible tokens and ``(B, L_mask, D)``
    mask tokens, each with the decoder position embedding of its own patch."""
    n_vis = split.visible.shape[1]
    if x.shape[1] != 1 + n_vis:
        raise ValueError(f'encoder output has {x.shape[1] - 1} patch tokens but the split '
                         f'has {n_vis} visible patches')
    x = neck.decoder_embed(x)
    pos = neck.decoder_pos_embed
    visible = torch.cat(
        [x[:, :1] + pos[:, :1], x[:, 1:] + gather_tokens(pos[:, 1:], split.visible)], dim=1)
    masked = neck.mask_token.expand(x.shape[0], split.masked.shape[1], -1) + gather_tokens(
        pos[:, 1:], split.masked)
    return visible, masked


@MODELS.register_module()
class AMTMAEPretrainDecoder(MAEPretrainDecoder):
    """MAE decoder over [CLS] + visible tokens + mask tokens at the masked positions only.

    Each token gets the decoder position embedding of its own patch; thrown positions never
    enter the sequence, so its length is ``1 + L_vis + L_mask`` instead of ``1 + L``.
    Same parameters as mmpretrain's ``MAEPretrainDecoder``.

    Args: see ``mmpretrain.models.MAEPretrainDecoder``.
    """

    def forward(self, x: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """Predict the pixels of the masked patches.

        Args:
            x (torch.Tensor): Encoder output, ``(B, 1 + L_vis, C_enc)``, visible patches in the
                order of ``split.visible``.
            split (TokenSplit): The batch's split.

        Returns:
            torch.Tensor: ``(B, L_mask, p * p * 3)``, in the order of ``split.masked``.
        """
        visible, masked = _decoder_tokens(self, x, split)
        x = torch.cat([visible, masked], dim=1)
        for block in self.decoder_blocks:
            x = block(x)
        # Only the masked tokens are predicted: norm and projection skip the rest.
        return self.decoder_pred(self.decoder_norm(x[:, visible.shape[1]:]))


@MODELS.register_module()
class AMTMILANPretrainDecoder(MILANPretrainDecoder):
    """MILAN's prompting decoder over the visible and the masked patches only.

    As in MILAN, the encoder's tokens are prompts the decoder never updates: in every block the
    mask tokens attend to [CLS], the visible tokens and the mask tokens, and only the mask tokens
    change. Thrown patches are in neither set. Same parameters as mmpretrain's
    ``MILANPretrainDecoder``.

    Args: see ``mmpretrain.models.MILANPretrainDecoder``.
    """

    def forward(self, x: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """Predict the teacher's features of the masked patches.

        Args:
            x (torch.Tensor): Encoder output, ``(B, 1 + L_vis, C_enc)``, visible patches in the
                order of ``split.visible``.
            split (TokenSplit): The batch's split.

        Returns:
            torch.Tensor: ``(B, L_mask, predict_feature_dim)``, in the order of
            ``split.masked``.
        """
        visible, masked = _decoder_tokens(self, x, split)
        # The prompt attention's keys are [CLS] + visible + masked in the order ``ids_restore``
        # gives; attention does not depend on the keys' order, so the order they come in is kept.
        order = torch.arange(
            visible.shape[1] - 1 + masked.shape[1], device=x.device).expand(x.shape[0], -1)
        for block in self.decoder_blocks:
            masked = block(masked, visible, order)
        return self.decoder_pred(self.decoder_norm(masked))
