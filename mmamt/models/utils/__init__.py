from .amt_family import (MaskTokensEncoderMixin, MaskTokensMIMMixin, VisibleTokensEncoderMixin,
                         VisibleTokensMIMMixin)
from .cls_attention import MAP_NORMS, CLSAttentionMixin, cls_attention_probs, normalize_attention
from .compile_ready import plain_drop_probs
from .data_preprocessor import AMTDataPreprocessor
from .map_sources import (CLSAttentionMap, FrequencyGuidedMap, MapSource, PatchAttentionMap,
                          ReconstructionLossMap, build_map_source, lowpass_saliency)
from .model_shape import describe_model, model_changes, weight_changes
from .teachers import FrozenCLIPTeacher, FrozenViTTeacher, TeacherTargetMixin
from .token_mask import (MASKED, THROWN, VISIBLE, MaskedPatchLossMixin, TokenSplit, gather_tokens,
                         has_pixel_target, scatter_tokens, stack_token_masks)

__all__ = [
    'MAP_NORMS', 'CLSAttentionMixin', 'cls_attention_probs', 'normalize_attention', 'MASKED',
    'THROWN', 'VISIBLE', 'TokenSplit', 'AMTDataPreprocessor', 'gather_tokens', 'scatter_tokens',
    'stack_token_masks', 'MaskedPatchLossMixin', 'plain_drop_probs', 'describe_model',
    'model_changes', 'weight_changes', 'VisibleTokensEncoderMixin', 'VisibleTokensMIMMixin',
    'MaskTokensEncoderMixin', 'MaskTokensMIMMixin', 'has_pixel_target', 'MapSource',
    'CLSAttentionMap', 'PatchAttentionMap', 'ReconstructionLossMap', 'build_map_source',
    'FrequencyGuidedMap', 'lowpass_saliency', 'FrozenCLIPTeacher', 'FrozenViTTeacher',
    'TeacherTargetMixin'
]
