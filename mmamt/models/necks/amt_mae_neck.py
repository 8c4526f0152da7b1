"""The throwing neck: an MAE decoder that never sees thrown patches."""
import torch
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from ..utils import gather_tokens, split_token_mask


@MODELS.register_module()
class AMTMAEPretrainDecoder(MAEPretrainDecoder):
    """MAE decoder over [CLS] + visible tokens + mask tokens at the masked positions only.

    Each token gets the decoder position embedding of its own patch; thrown positions never
    enter the sequence, so its length is ``1 + L_vis + L_mask`` instead of ``1 + L``.
    Same parameters as mmpretrain's ``MAEPretrainDecoder``.

    Args: see ``mmpretrain.models.MAEPretrainDecoder``.
    """

    def forward(self, x: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Predict the pixels of the masked patches.

        Args:
            x (torch.Tensor): Encoder output, ``(B, 1 + L_vis, C_enc)``.
            token_mask (torch.Tensor): ``(B, L)`` with 1 masked, -1 thrown, 0 visible.

        Returns:
            torch.Tensor: ``(B, L_mask, p * p * 3)``, the masked patches in ascending order.
        """
        ids_visible, ids_masked, _ = split_token_mask(token_mask)
        if x.shape[1] != 1 + ids_visible.shape[1]:
            raise ValueError(f'encoder output has {x.shape[1] - 1} patch tokens but the mask has '
                             f'{ids_visible.shape[1]} visible patches')
        x = self.decoder_embed(x)
        pos = self.decoder_pos_embed
        mask_tokens = self.mask_token.expand(x.shape[0], ids_masked.shape[1], -1)
        x = torch.cat([
            x[:, :1] + pos[:, :1],
            x[:, 1:] + gather_tokens(pos[:, 1:], ids_visible),
            mask_tokens + gather_tokens(pos[:, 1:], ids_masked),
        ], dim=1)
        for block in self.decoder_blocks:
            x = block(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1 + ids_visible.shape[1]:]
