"""MILAN (a teacher's features as the target, the teacher's attention as the mask) with AMT."""
import torch
from mmpretrain.models.selfsup.milan import MILAN
from mmpretrain.registry import MODELS

from ..utils import TeacherTargetMixin, VisibleTokensMIMMixin


@MODELS.register_module()
class MILANAMT(TeacherTargetMixin, VisibleTokensMIMMixin, MILAN):
    """MILAN with AMT (MILAN: `Masked Image Pretraining on Language Assisted Representation
    <https://arxiv.org/abs/2208.06049>`_; AMT: `<https://arxiv.org/abs/2211.15362>`_).

    MILAN already guides its mask: each image's patches are kept with probability proportional to
    the frozen teacher's last-layer [CLS] attention, and the decoder (a prompting decoder: the
    encoder's tokens are attended to but never updated) predicts the teacher's features of every
    token. MILAN-AMT replaces the teacher's map with AMT's: the mask comes from the data pipeline
    (``AMTMaskGenerator``, following the student's own refreshed [CLS] attention), thrown patches
    leave the encoder and the decoder (``AMTMILANPretrainDecoder``), and the loss covers the
    masked patches only. The teacher (``target_generator``) stays MILAN's: ``FrozenCLIPTeacher``,
    ``FrozenViTTeacher`` or mmpretrain's ``CLIPGenerator``. The encoder is ``AMTMAEViT``
    (MILAN's ``MILANViT`` differs from MAE's only in how it masks).

    Args:
        teacher_tokens (str): ``'all'`` or ``'kept'``, see
            :class:`~mmamt.models.utils.TeacherTargetMixin`. Defaults to ``'all'``.
        **kwargs: MILAN's arguments.
    """

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs)
