"""EVA (a teacher's features as the target) with attention-driven masking and throwing."""
from mmpretrain.models.selfsup.eva import EVA
from mmpretrain.registry import MODELS

from ..utils import TeacherTargetMixin, VisibleTokensMIMMixin


@MODELS.register_module()
class EVAAMT(TeacherTargetMixin, VisibleTokensMIMMixin, EVA):
    """EVA with AMT (EVA: `Exploring the Limits of Masked Visual Representation Learning at
    Scale <https://arxiv.org/abs/2211.07636>`_; AMT: `<https://arxiv.org/abs/2211.15362>`_).

    EVA is MAE with the features of a frozen image encoder as the target (``target_generator``:
    a CLIP, mmpretrain's ``CLIPGenerator`` or ``FrozenCLIPTeacher``, or a self-made
    ``FrozenViTTeacher``). With AMT the student encoder (``AMTMAEViT``) sees the visible patches,
    the throwing neck predicts the masked patches' features only and the loss (``MIMHead``,
    cosine similarity) covers the masked patches only. By default the teacher still sees the whole
    image: its features of a masked patch are what they are in context.

    Args:
        teacher_tokens (str): ``'all'`` or ``'kept'``, see
            :class:`~mmamt.models.utils.TeacherTargetMixin`. Defaults to ``'all'``.
        **kwargs: EVA's arguments.
    """
