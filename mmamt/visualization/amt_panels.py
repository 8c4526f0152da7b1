"""Panels of what AMT does to images: attention, token mask, reconstruction.

:func:`render_panels` draws panels for a batch (model inputs + attention maps), and is shared by
the refresh hook's panels (maps from the attention bank) and :func:`write_panels`
(``tools/visualization/vis_amt.py``; maps computed by the checkpoint's own backbone).
"""
import contextlib
import copy
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.utils import scandir
from mmpretrain.registry import DATASETS
from mmpretrain.utils import get_ori_model, track_on_main_process
from PIL import Image

from mmamt.datasets import AttentionBank
from mmamt.datasets.transforms import AMTMaskGenerator, refresh_view_transforms
from mmamt.datasets.transforms.attention_view import FULL_VIEW, VIEW_KEY
from mmamt.utils.amt_config import (MASK_GENERATOR, TRAIN_PIPELINE, build_mask_generator,
                                    refresh_hook_cfg, train_dataset_cfg)
from mmamt.utils.model import build_model
from mmamt.utils.scope import config_scope
from .panel import MIN_TILE, draw_panel
from .reconstruction import attention_maps, patches_to_images, reconstruct, unnormalize

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


@contextlib.contextmanager
def numpy_seed(*keys: int) -> Iterator[None]:
    """Seed numpy's global RNG from ``keys`` for the block, then restore its state.

    ``AMTMaskGenerator`` draws from the global RNG (as mmcv transforms do); seeding per sample
    makes a sample's mask the same in every panel run without disturbing the training RNG.
    """
    state = np.random.get_state()
    np.random.seed(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])
    try:
        yield
    finally:
        np.random.set_state(state)


def view_pipeline(pipeline: Sequence[Union[dict, object]], size: Tuple[int, int]) -> Compose:
    """The refresh pass's deterministic view (``refresh_view_transforms``) as one ``Compose``.

    Args:
        pipeline (Sequence[dict | BaseTransform]): The training pipeline.
        size (tuple[int, int]): ``(H, W)`` model input size.

    Returns:
        Compose: loading steps, ``Resize(scale=(W, H), bicubic, pillow)``, ``PackInputs``.
    """
    return Compose(refresh_view_transforms(pipeline, size))


def draw_token_masks(generator: AMTMaskGenerator,
                     maps: np.ndarray,
                     seeds: Sequence[Union[int, Tuple[int, ...]]],
                     num_refreshes: Optional[int] = None) -> np.ndarray:
    """AMT token masks drawn by the config's generator from each map, AMT active.

    Args:
        generator (AMTMaskGenerator): The training pipeline's generator.
        maps (np.ndarray): ``(B, h, w)`` attention maps of the full images.
        seeds (Sequence[int | tuple[int, ...]]): One seed (or tuple of seed keys) per map;
            the same seed gives the same mask.
        num_refreshes (int, optional): Refreshes the maps come from, which the generator's
            ``ramp_refreshes`` reads (as training reads them from the bank). Defaults to None:
            the guidance at full strength, as after the ramp.

    Returns:
        np.ndarray: ``(B, h', w')`` int64 token masks at the model patch grid.
    """
    out = []
    size = generator.input_size
    refreshes = generator.ramp_refreshes if num_refreshes is None else int(num_refreshes)
    for attn_map, seed in zip(maps, seeds):
        keys = tuple(seed) if isinstance(seed, (tuple, list)) else (seed, )
        # The generator checks the image size and reads the view: a full, unflipped image.
        results = dict(
            img=np.zeros((size, size, 3), np.uint8),
            attn_map=attn_map,
            amt_active=True,
            amt_refreshes=refreshes,
            **{VIEW_KEY: FULL_VIEW})
        with numpy_seed(*keys):
            out.append(np.asarray(generator(results)['mask'], dtype=np.int64))
    return np.stack(out)


def render_panels(model: nn.Module,
                  generator: AMTMaskGenerator,
                  inputs: torch.Tensor,
                  maps: Union[np.ndarray, torch.Tensor],
                  seeds: Sequence[Union[int, Tuple[int, ...]]],
                  titles: Optional[Sequence[str]] = None,
                  min_tile: int = MIN_TILE,
                  num_refreshes: Optional[int] = None) -> List[np.ndarray]:
    """Draw one panel per input (see :mod:`mmamt.visualization.panel` for the layout).

    Args:
        model (nn.Module): ``MAEAMT`` or ``SimMIMAMT``.
        generator (AMTMaskGenerator): Draws the token mask from each map.
        inputs (torch.Tensor): ``(B, 3, H, W)`` normalised model inputs (deterministic view).
        maps (np.ndarray | torch.Tensor): ``(B, h, w)`` attention maps in [0, 1] of the inputs.
        seeds (Sequence[int | tuple[int, ...]]): One mask seed (or seed keys) per input.
        titles (Sequence[str], optional): One title per panel. Defaults to None.
        min_tile (int): Smallest tile side in pixels. Defaults to 224.
        num_refreshes (int, optional): See :func:`draw_token_masks`. Defaults to None (the
            guidance at full strength).

    Returns:
        list[np.ndarray]: ``B`` uint8 RGB panels of ``panel_shape(H, min_tile)``.
    """
    size = tuple(get_ori_model(model).backbone.input_size)
    if generator.input_size != size[0] or size[0] != size[1]:
        raise ValueError(f'AMTMaskGenerator.input_size={generator.input_size} but the model '
                         f'input is {size[0]}x{size[1]}; they must match')
    maps = maps.detach().float().cpu().numpy() if isinstance(maps, torch.Tensor) else maps
    maps = np.asarray(maps, dtype=np.float32)
    token_masks = torch.from_numpy(draw_token_masks(generator, maps, seeds, num_refreshes))
    recon = patches_to_images(model, reconstruct(model, inputs, token_masks.to(inputs.device)))
    images, recon_images = unnormalize(model, inputs), unnormalize(model, recon)
    return [
        draw_panel(
            images[i],
            maps[i],
            token_masks[i].numpy(),
            recon_images[i],
            mask_cell=generator.scale,
            min_tile=min_tile,
            title=titles[i] if titles else None) for i in range(len(images))
    ]


def _image_files(folder: str) -> List[str]:
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--images {folder} is not a folder')
    files = sorted(scandir(folder, suffix=IMG_EXTENSIONS, recursive=True, case_sensitive=False))
    if not files:
        raise FileNotFoundError(f'no images ({", ".join(IMG_EXTENSIONS)}) under {folder}')
    return [osp.join(folder, f) for f in files]


def _pick(total: int, num: int, seed: int, shuffle: bool) -> List[int]:
    num = min(num, total)
    if not shuffle:
        return list(range(num))
    return sorted(np.random.default_rng(seed).choice(total, size=num, replace=False).tolist())


def _output_names(paths: Sequence[str], root: Optional[str]) -> List[str]:
    """``<stem>.png``; stems that repeat get their relative folder prepended, ``a__b__stem``."""
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    names = []
    for p, stem in zip(paths, stems):
        if stems.count(stem) > 1:
            rel = osp.relpath(p, root) if root else p
            stem = osp.splitext(rel)[0].strip(os.sep).replace(os.sep, '__')
        names.append(f'{stem}.png')
    return names


def load_model(cfg: Config, checkpoint: Optional[str], device: str = 'cpu') -> nn.Module:
    """:func:`mmamt.utils.build_model` (checkpoint strict), in eval mode on ``device``."""
    return build_model(cfg, checkpoint).to(device).eval()


def write_panels(config: Union[str, Config],
                 checkpoint: Optional[str],
                 out_dir: str,
                 images: Optional[str] = None,
                 num: int = 8,
                 seed: int = 0,
                 shuffle: bool = False,
                 batch_size: int = 8,
                 device: Optional[str] = None,
                 min_tile: int = MIN_TILE,
                 cfg_options: Optional[Dict] = None,
                 bank: Union[str, AttentionBank, None] = None) -> List[str]:
    """Write one AMT panel PNG per image: image, attention, AMT mask, reconstruction.

    The attention map is the checkpoint's own (the refresh pass's routine on the deterministic
    view: the full image resized to the input size, normalised by the data preprocessor), made
    as the run's bank records (``made_with['maps']``: ``map_norm`` and ``source``) when ``bank``
    is given, else as the config's ``AMTMaskGenerator.map_norm`` and refresh hook's
    ``map_source`` say; the token mask is drawn by that generator
    from it (AMT active, seeded per image); the reconstruction shows the model's prediction on
    the masked patches.

    Args:
        config (str | Config): A MAE-AMT or SimMIM-AMT training config.
        checkpoint (str, optional): Its checkpoint; None draws a randomly initialised model.
        out_dir (str): Folder for the PNGs (created).
        images (str, optional): A folder of images (searched recursively). Defaults to the
            config's training set.
        num (int): Number of images. Defaults to 8.
        seed (int): Seed of the masks (image ``i`` uses ``(seed, i)``) and of the pick with
            ``shuffle``. Defaults to 0.
        shuffle (bool): Pick ``num`` images at random instead of the first ``num``.
            Defaults to False.
        batch_size (int): Images per forward pass. Defaults to 8.
        device (str, optional): Defaults to ``'cuda'`` when available, else ``'cpu'``.
        min_tile (int): Smallest tile side in pixels. Defaults to 224.
        cfg_options (dict, optional): Overrides merged into the config. Defaults to None.
        bank (str | AttentionBank, optional): The run's bank (or its file,
            ``work_dir/amt_bank/epoch_<e>.pth``), whose record says how its maps are made.
            Defaults to None (the config's generator says).

    Returns:
        list[str]: The written paths, ``out_dir/<image stem>.png``, in image order.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    with config_scope(cfg):
        if num < 1:
            raise ValueError(f'num={num} must be >= 1')
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        model = load_model(cfg, checkpoint, device)
        dataset_cfg = train_dataset_cfg(cfg)
        generator = build_mask_generator(cfg)
        if generator is None:
            raise ValueError(f'{TRAIN_PIPELINE} has no {MASK_GENERATOR}; the AMT panels draw the '
                             "config's own mask")
        pipeline = view_pipeline(dataset_cfg.pipeline, model.backbone.input_size)
        if isinstance(bank, str):
            bank = AttentionBank.from_file(bank)
        if bank is None:
            hook = refresh_hook_cfg(cfg) or {}
            map_norm, source = generator.map_norm, hook.get('map_source')
        else:
            map_norm = bank.made_with['maps']['map_norm']
            source = bank.made_with['maps'].get('source')

        if images is not None:
            files = _image_files(images)
            picked = _pick(len(files), num, seed, shuffle)
            paths = [files[i] for i in picked]
            load = lambda i, k: pipeline(dict(img_path=paths[k], sample_idx=i))  # noqa: E731
            root = images
        else:
            dataset_cfg = copy.deepcopy(dataset_cfg)
            dataset_cfg.pipeline = []
            dataset = DATASETS.build(dataset_cfg)
            picked = _pick(len(dataset), num, seed, shuffle)
            paths = [dataset.get_data_info(i)['img_path'] for i in picked]
            load = lambda i, k: pipeline(dataset.get_data_info(i))  # noqa: E731
            root = None

        os.makedirs(out_dir, exist_ok=True)
        names = _output_names(paths, root)
        written = []
        # rich: a bar on a terminal, a single line in a non-interactive log.
        starts = range(0, len(picked), batch_size)
        for start in track_on_main_process(starts, 'AMT panels', total=len(starts)):
            ks = list(range(start, min(start + batch_size, len(picked))))
            batch = default_collate([load(picked[k], k) for k in ks])
            with torch.no_grad():
                inputs = model.data_preprocessor(batch, False)['inputs']
                maps = attention_maps(model, inputs, map_norm, source)
            panels = render_panels(
                model,
                generator,
                inputs,
                maps, [(seed, picked[k]) for k in ks],
                titles=[names[k][:-4] for k in ks],
                min_tile=min_tile)
            for k, panel in zip(ks, panels):
                path = osp.join(out_dir, names[k])
                Image.fromarray(panel).save(path)
                written.append(path)
        return written
