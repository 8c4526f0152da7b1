"""Pictures of what AMT does: attention maps, token masks and reconstructions."""
from .amt_panels import (draw_token_masks, load_model, numpy_seed, render_panels, train_dataset_cfg,
                         view_pipeline, write_panels)
from .amt_visualizer import AMTVisualizer
from .panel import (MASK_COLORS, THROWN_GREY, display_factor, draw_panel, heatmap_overlay,
                    mask_counts, mask_tile, panel_shape, reconstruction_tile)
from .reconstruction import attention_maps, patches_to_images, reconstruct, unnormalize
from .source_grid import source_grid, write_source_grid

__all__ = [
    'AMTVisualizer', 'draw_token_masks', 'load_model', 'numpy_seed', 'render_panels',
    'train_dataset_cfg', 'view_pipeline', 'write_panels', 'MASK_COLORS', 'THROWN_GREY',
    'display_factor', 'draw_panel', 'heatmap_overlay', 'mask_counts', 'mask_tile', 'panel_shape',
    'reconstruction_tile', 'attention_maps', 'patches_to_images', 'reconstruct', 'unnormalize',
    'source_grid', 'write_source_grid'
]
