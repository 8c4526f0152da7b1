"""MaskFeat (HOG targets) with attention-driven masking and throwing."""
import torch
from mmpretrain.models.selfsup.maskfeat import MaskFeat, MaskFeatViT
from mmpretrain.registry import MODELS

from ..utils import MaskTokensEncoderMixin, MaskTokensMIMMixin, TokenSplit, gather_tokens


@MODELS.register_module()
class AMTMaskFeatViT(MaskTokensEncoderMixin, MaskFeatViT):
    """MaskFeat's ViT on AMT's input: [CLS] + visible patches + mask tokens, thrown ones left out.

    Same parameters, state-dict keys and initialisation as mmpretrain's ``MaskFeatViT``.

    Args: see ``mmpretrain.models.MaskFeatViT``.
    """


@MODELS.register_module()
class MaskFeatAMT(MaskTokensMIMMixin, MaskFeat):
    """MaskFeat with AMT (MaskFeat: `Masked Feature Prediction for Self-Supervised Visual
    Pre-Training <https://arxiv.org/abs/2112.09133>`_; AMT: `<https://arxiv.org/abs/2211.15362>`_).

    The HOG features of the masked patches are the target; the encoder never sees the thrown
    patches and the loss never reads them. Upstream's ``LinearNeck`` predicts from each masked
    token, ``MIMHead``'s loss compares (as ``MaskFeat`` does, now over the masked patches only).
    """

    def decode_masked(self, tokens: torch.Tensor) -> torch.Tensor:
        B, n, C = tokens.shape
        return self.neck((tokens.reshape(B * n, C), ))[0].view(B, n, -1)

    def masked_target(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        hog = self.target_generator(inputs)  # (B, L, nbins * cells * 3)
        if hog.shape[1] != split.num_patches:
            raise ValueError(
                f'model.target_generator ({type(self.target_generator).__name__}) gives '
                f'{hog.shape[1]} HOG cells per image but the ViT has {split.num_patches} '
                'patches: mmpretrain\'s HOGGenerator always makes a 14x14 grid, so '
                'img_size / patch_size must be 14 and (img_size / pool) a multiple of 14')
        return gather_tokens(hog, split.masked)
