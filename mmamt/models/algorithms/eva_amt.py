"""EVA (a teacher's features as the target) with attention-driven masking and throwing."""
import torch
from mmpretrain.models.selfsup.eva import EVA
from mmpretrain.registry import MODELS

from ..utils import TokenSplit, VisibleTokensMIMMixin, gather_tokens


@MODELS.register_module()
class EVAAMT(VisibleTokensMIMMixin, EVA):
    """EVA with AMT (EVA: `Exploring the Limits of Masked Visual Representation Learning at
    Scale <https://arxiv.org/abs/2211.07636>`_; AMT: `<https://arxiv.org/abs/2211.15362>`_).

    EVA is MAE with the features of a frozen CLIP image encoder as the target
    (``target_generator``, mmpretrain's ``CLIPGenerator``; its weights come from the path in
    ``tokenizer_path``). With AMT the student encoder (``AMTMAEViT``) sees the visible patches,
    the throwing neck predicts the masked patches' features only and the loss (``MIMHead``,
    cosine similarity) covers the masked patches only. The teacher still sees the whole image:
    its features of a masked patch are what they are in context.
    """

    def masked_target(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        features, _ = self.target_generator(inputs)  # (B, 1 + L, D), [CLS] first
        if features.shape[1] != 1 + split.num_patches:
            raise ValueError(
                f'model.target_generator gives {features.shape[1] - 1} patch features per image '
                f'but the student has {split.num_patches} patches: the teacher checkpoint '
                '(tokenizer_path) must have the student\'s image size / patch size grid')
        return gather_tokens(features[:, 1:], split.masked)
