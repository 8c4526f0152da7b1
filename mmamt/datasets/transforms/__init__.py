from .amt_mask import AMTMaskGenerator, patch_counts
from .attention_view import (AMTRandomFlip, AMTRandomResizedCrop, LoadAttentionMap, compose_crop,
                             compose_flip, refresh_view_transforms, sample_map)
from .compose import SampleNamingCompose

__all__ = [
    'AMTMaskGenerator', 'patch_counts', 'AMTRandomFlip', 'AMTRandomResizedCrop', 'LoadAttentionMap',
    'compose_crop', 'compose_flip', 'refresh_view_transforms', 'sample_map', 'SampleNamingCompose'
]
