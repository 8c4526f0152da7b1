"""The throwing neck: an MAE decoder that never sees thrown patches."""
import torch
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from ..utils import TokenSplit, gather_tokens


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
        n_vis = split.visible.shape[1]
        if x.shape[1] != 1 + n_vis:
            raise ValueError(f'encoder output has {x.shape[1] - 1} patch tokens but the split '
                             f'has {n_vis} visible patches')
        x = self.decoder_embed(x)
        pos = self.decoder_pos_embed
        mask_tokens = self.mask_token.expand(x.shape[0], split.masked.shape[1], -1)
        x = torch.cat([
            x[:, :1] + pos[:, :1],
            x[:, 1:] + gather_tokens(pos[:, 1:], split.visible),
            mask_tokens + gather_tokens(pos[:, 1:], split.masked),
        ],
                      dim=1)
        for block in self.decoder_blocks:
            x = block(x)
        # Only the masked tokens are predicted: norm and projection skip the rest.
        return self.decoder_pred(self.decoder_norm(x[:, 1 + n_vis:]))
