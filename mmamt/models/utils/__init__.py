from .cls_attention import CLSAttentionMixin, cls_attention_probs, normalize_attention
from .token_mask import (MASKED, THROWN, VISIBLE, MaskedPatchLossMixin, gather_tokens,
                         kept_indices, scatter_tokens, split_token_mask, stack_token_masks)

__all__ = [
    'CLSAttentionMixin', 'cls_attention_probs', 'normalize_attention', 'MASKED', 'THROWN',
    'VISIBLE', 'gather_tokens', 'kept_indices', 'scatter_tokens', 'split_token_mask',
    'stack_token_masks', 'MaskedPatchLossMixin'
]
