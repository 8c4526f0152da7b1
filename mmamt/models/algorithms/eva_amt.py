"""EVA (a teacher's features as the target) with attention-driven masking and throwing."""
import inspect

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
    cosine similarity) covers the masked patches only. By default the teacher still sees the whole
    image: its features of a masked patch are what they are in context.

    Args:
        teacher_tokens (str): What the teacher sees: ``'all'`` (every patch, EVA's own target)
            or ``'kept'`` ([CLS], the visible and the masked patches; the thrown ones are
            dropped, which cuts the teacher's forward as throwing cuts the student's; needs a
            teacher whose ``forward`` takes ``keep`` and that has ``num_patches``, as
            ``FrozenCLIPTeacher``). Defaults to ``'all'``.
        **kwargs: EVA's arguments.
    """

    TEACHER_TOKENS = ('all', 'kept')

    def __init__(self, *args, teacher_tokens: str = 'all', **kwargs) -> None:
        if teacher_tokens not in self.TEACHER_TOKENS:
            raise ValueError(f'model.teacher_tokens={teacher_tokens!r}: use one of '
                             f'{self.TEACHER_TOKENS}')
        super().__init__(*args, **kwargs)
        if teacher_tokens == 'kept' and not (hasattr(self.target_generator, 'num_patches')
                                             and 'keep' in inspect.signature(
                                                 self.target_generator.forward).parameters):
            raise TypeError(f"model.teacher_tokens='kept' needs a teacher whose forward takes "
                            f'keep and that has num_patches (FrozenCLIPTeacher); '
                            f'model.target_generator is {type(self.target_generator).__name__}')
        self.teacher_tokens = teacher_tokens

    def masked_target(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        if self.teacher_tokens == 'kept' and split.thrown.shape[1]:
            _check_teacher_grid(self.target_generator.num_patches, split)
            keep = torch.cat([split.visible, split.masked], dim=1)
            features, _ = self.target_generator(inputs, keep=keep)  # [CLS], visible, masked
            return features[:, 1 + split.visible.shape[1]:]
        features, _ = self.target_generator(inputs)  # (B, 1 + L, D), [CLS] first
        _check_teacher_grid(features.shape[1] - 1, split)
        return gather_tokens(features[:, 1:], split.masked)


def _check_teacher_grid(teacher_patches: int, split: TokenSplit) -> None:
    if teacher_patches != split.num_patches:
        raise ValueError(f'model.target_generator gives {teacher_patches} patch features per image '
                         f'but the student has {split.num_patches} patches: the teacher checkpoint '
                         '(tokenizer_path) must have the student\'s image size / patch size grid')
