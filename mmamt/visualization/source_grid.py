"""The maps of several map sources on the same images, side by side in one picture.

One row per image, the image first, then one tile per source: its map (as the refresh pass
makes it, :func:`~mmamt.engine.refresh.batch_maps`, on the deterministic view) as a heat map
over the image, on the fixed [0, 1] colour scale of the AMT panels. A header names the columns.
"""
import copy
from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from PIL import Image

from mmamt.models.utils import build_map_source
from mmamt.utils import config_scope
from mmamt.utils.amt_config import mask_generator_arg, train_dataset_cfg
from mmamt.utils.array import upscale_nearest
from mmamt.utils.io import atomic_write_bytes
from .amt_panels import _image_files, _pick, load_model, view_pipeline
from .panel import _put_text, display_factor, heatmap_overlay
from .reconstruction import attention_maps, unnormalize

HEADER = 24  # pixels of the column titles
GAP = 4  # pixels between tiles


def source_grid(config: Union[str, Config],
                checkpoint: Optional[str],
                sources: Dict[str, Union[None, str, dict]],
                images: str,
                num: int = 6,
                seed: int = 0,
                shuffle: bool = False,
                min_tile: int = 96,
                device: str = 'cpu') -> np.ndarray:
    """Draw the maps of ``sources`` for ``num`` images of ``images`` (one row each).

    Args:
        config (str | Config): The AMT pre-training config of the checkpoint.
        checkpoint (str, optional): Its checkpoint (None: random initialisation).
        sources (dict): Column title -> map source (as ``AttentionRefreshHook.map_source``
            takes it; None is the last-layer [CLS] attention).
        images (str): A folder of images (searched recursively), e.g. the validation split.
        num (int): Images (rows). Defaults to 6.
        seed (int): Seed of the pick with ``shuffle``. Defaults to 0.
        shuffle (bool): Seeded random images instead of the first ``num``. Defaults to False.
        min_tile (int): Smallest tile side in pixels. Defaults to 96.
        device (str): Where the model runs. Defaults to 'cpu'.

    Returns:
        np.ndarray: The picture, uint8 RGB.

    Raises:
        ValueError: If ``sources`` is empty or ``num`` < 1; a source the model cannot read
            (naming ``map_source``).
    """
    if not sources:
        raise ValueError('give at least one map source')
    if num < 1:
        raise ValueError(f'num={num} must be >= 1')
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    with config_scope(cfg):
        model = load_model(cfg, checkpoint, device)
        built = {name: build_map_source(s) for name, s in sources.items()}
        for source in built.values():
            source.check_model(model)
        size = int(model.backbone.input_size[0])
        pipeline = view_pipeline(train_dataset_cfg(cfg).pipeline, model.backbone.input_size)
        files = _image_files(images)
        paths = [files[i] for i in _pick(len(files), num, seed, shuffle)]
        batch = default_collate(
            [pipeline(dict(img_path=p, sample_idx=i)) for i, p in enumerate(paths)])
        map_norm = mask_generator_arg(cfg, 'map_norm')
        with torch.no_grad():
            inputs = model.data_preprocessor(batch, False)['inputs']
            maps = {
                name: attention_maps(model, inputs, map_norm, s).numpy()
                for name, s in built.items()
            }
        imgs = unnormalize(model, inputs)
    k = display_factor(size, min_tile)
    tile = size * k
    cols = ['image'] + list(built)
    width = len(cols) * tile + (len(cols) - 1) * GAP
    canvas = np.full((HEADER + len(paths) * (tile + GAP), width, 3), 255, np.uint8)
    for c, title in enumerate(cols):
        _put_text(canvas, title[:max(4, tile // 8)], c * (tile + GAP) + 2, HEADER - 8)
    for r, img in enumerate(imgs):
        y = HEADER + r * (tile + GAP)
        tiles = [img] + [heatmap_overlay(img, maps[name][r]) for name in built]
        for c, t in enumerate(tiles):
            x = c * (tile + GAP)
            canvas[y:y + tile, x:x + tile] = upscale_nearest(t, k, k)
    return canvas


def write_source_grid(out: str, *args, **kwargs) -> np.ndarray:
    """:func:`source_grid`, written atomically to ``out`` (PNG)."""
    import io
    canvas = source_grid(*args, **kwargs)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format='PNG')
    atomic_write_bytes(buf.getvalue(), out)
    return canvas
