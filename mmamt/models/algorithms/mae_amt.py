"""MAE with attention-driven masking and throwing (AMT)."""
from mmpretrain.models.selfsup.mae import MAE, MAEViT
from mmpretrain.registry import MODELS

from ..utils import VisibleTokensEncoderMixin, VisibleTokensMIMMixin


@MODELS.register_module()
class AMTMAEViT(VisibleTokensEncoderMixin, MAEViT):
    """MAE's ViT encoder that takes its token mask from the data and exposes [CLS] attention.

    Masked and thrown patches are both left out of the encoder: it sees [CLS] plus the visible
    patches only (``forward(x, token_split)``, see
    :class:`~mmamt.models.utils.VisibleTokensEncoderMixin`). Unlike ``MAEViT`` it never draws a
    random mask of its own. Same parameters (and state-dict keys) as mmpretrain's ``MAEViT``,
    so any arch (s, b, l, h or a dict), image size and patch size work.

    Args: see ``mmpretrain.models.MAEViT``.
    """


@MODELS.register_module()
class MAEAMT(VisibleTokensMIMMixin, MAE):
    """MAE with AMT: `Good helper is around you: Attention-driven Masked Image Modeling
    <https://arxiv.org/abs/2211.15362>`_.

    The token mask of each sample (1 masked, -1 thrown, 0 visible) comes from the data pipeline
    (``AMTMaskGenerator``). The encoder sees the visible patches, the throwing neck
    (``AMTMAEPretrainDecoder``) adds mask tokens at the masked positions only, and the pixel loss
    covers the masked patches only: thrown patches cost nothing and teach nothing. Pair it with
    ``AMTDataPreprocessor``, which splits the masks on the CPU so that no step synchronises.
    """
