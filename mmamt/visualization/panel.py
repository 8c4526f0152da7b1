"""Draw one AMT panel: image | attention heat map | token mask | reconstruction.

Everything here is plain numpy/OpenCV on ``uint8`` RGB arrays, so the same drawing serves the
command-line tool and the training hook. Panel layout (``T`` = tile side, ``S`` = strip height)::

    +---------+-----------+-----------+----------------+
    |  image  | attention |  AMT mask | reconstruction |   T rows
    +---------+-----------+-----------+----------------+
    | captions under each tile                         |   S rows (white)
    | legend: [#] masked n  [#] thrown n  [#] visible n|
    +--------------------------------------------------+
                          4 * T columns

``T`` is the model input size times an integer factor (the smallest one giving at least
``min_tile`` pixels), so every patch covers an exact square of display pixels and the mask tile
holds exactly ``count * (mask_patch_size * factor) ** 2`` pixels of each mask colour.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmamt.models.utils import MASKED, THROWN, VISIBLE
from mmamt.utils.array import upscale_nearest

#: RGB colour of each token-mask value in the mask tile (and the legend swatches).
MASK_COLORS: Dict[int, Tuple[int, int, int]] = {
    MASKED: (228, 26, 28),  # red: the model must reconstruct these
    THROWN: (40, 40, 40),  # near black: dropped altogether
    VISIBLE: (77, 175, 74),  # green: the encoder sees these
}
#: RGB colour of thrown patches in the reconstruction tile.
THROWN_GREY: Tuple[int, int, int] = (128, 128, 128)
#: Height of the caption + legend strip under the tiles.
STRIP_HEIGHT = 44
#: Default smallest tile side.
MIN_TILE = 224

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.45
_TEXT_COLOR = (0, 0, 0)
_TITLES = ('image', 'attention', 'AMT mask', 'reconstruction')


def display_factor(input_size: int, min_tile: int = MIN_TILE) -> int:
    """Integer upscaling factor of each tile: the smallest one reaching ``min_tile`` pixels.

    Args:
        input_size (int): Side of the (square) model input.
        min_tile (int): Smallest tile side in pixels. Defaults to 224.

    Returns:
        int: Factor ``k >= 1``; the tile side is ``input_size * k``.
    """
    if input_size < 1:
        raise ValueError(f'input_size={input_size} must be >= 1')
    return max(1, math.ceil(min_tile / input_size))


def panel_shape(input_size: int, min_tile: int = MIN_TILE) -> Tuple[int, int]:
    """``(height, width)`` of the panel drawn for a model of this input size.

    Args:
        input_size (int): Side of the (square) model input.
        min_tile (int): Smallest tile side in pixels. Defaults to 224.

    Returns:
        tuple[int, int]: ``(T + STRIP_HEIGHT, 4 * T)`` with ``T = input_size * factor``.
    """
    tile = input_size * display_factor(input_size, min_tile)
    return tile + STRIP_HEIGHT, 4 * tile


def grid_to_pixels(values: np.ndarray, size: int) -> np.ndarray:
    """Spread a per-patch grid over ``size x size`` pixels (each patch a constant block).

    Args:
        values (np.ndarray): ``(h, w)`` or ``(h, w, C)`` with ``size`` divisible by ``h``, ``w``.
        size (int): Side of the output.

    Returns:
        np.ndarray: ``(size, size[, C])``.
    """
    h, w = values.shape[:2]
    if size % h or size % w:
        raise ValueError(f'a {h}x{w} grid does not divide a {size}-px tile')
    return upscale_nearest(values, size // h, size // w)


def heatmap_overlay(img: np.ndarray, attn_map: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The attention map as a jet heat map blended over the image.

    The colour scale is fixed to [0, 1] (the AMT map's range), so a uniform map before the
    first refresh shows as uniform red instead of being stretched.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        attn_map (np.ndarray): ``(h, w)`` map in [0, 1] at the patch grid of ``img``.
        alpha (float): Weight of the heat map. Defaults to 0.5.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    values = np.clip(np.nan_to_num(np.asarray(attn_map, np.float32)), 0, 1)
    heat = cv2.applyColorMap((values * 255).round().astype(np.uint8), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    heat = grid_to_pixels(heat, img.shape[0])
    out = (1 - alpha) * img.astype(np.float32) + alpha * heat.astype(np.float32)
    return out.round().clip(0, 255).astype(np.uint8)


def mask_tile(token_mask: np.ndarray, size: int) -> np.ndarray:
    """The token mask in flat colours (:data:`MASK_COLORS`), no blending or grid lines.

    Args:
        token_mask (np.ndarray): ``(h, w)`` with 1 masked, -1 thrown, 0 visible.
        size (int): Tile side in pixels (a multiple of ``h`` and ``w``).

    Returns:
        np.ndarray: ``(size, size, 3)`` uint8 RGB.
    """
    token_mask = np.asarray(token_mask)
    colors = np.zeros((*token_mask.shape, 3), dtype=np.uint8)
    for value, color in MASK_COLORS.items():
        colors[token_mask == value] = color
    return grid_to_pixels(colors, size)


def reconstruction_tile(img: np.ndarray, recon: np.ndarray, token_mask: np.ndarray) -> np.ndarray:
    """Visible patches from the image, masked ones from the reconstruction, thrown ones grey.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8 RGB, the model input.
        recon (np.ndarray): ``(H, W, 3)`` uint8 RGB, the model's reconstruction.
        token_mask (np.ndarray): ``(h, w)`` with 1 masked, -1 thrown, 0 visible.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    per_pixel = grid_to_pixels(np.asarray(token_mask), img.shape[0])[..., None]
    out = np.where(per_pixel == MASKED, recon, img)
    return np.where(per_pixel == THROWN, np.array(THROWN_GREY, np.uint8), out).astype(np.uint8)


def _put_text(canvas: np.ndarray, text: str, x: int, y: int) -> int:
    """Write ``text`` with its baseline at ``y``; returns the x after it."""
    cv2.putText(canvas, text, (x, y), _FONT, _FONT_SCALE, _TEXT_COLOR, 1, cv2.LINE_AA)
    return x + cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)[0][0]


def mask_counts(token_mask: np.ndarray, cell: int = 1) -> Dict[str, int]:
    """Masked, thrown and visible counts of a token mask, in cells of ``cell x cell`` patches.

    Args:
        token_mask (np.ndarray): ``(h, w)`` at the model patch grid.
        cell (int): Model patches per mask-patch side (2 for SimMIM's 32-px mask patches on a
            16-px ViT). Defaults to 1.

    Returns:
        dict[str, int]: ``{'masked': n, 'thrown': n, 'visible': n}``.
    """
    token_mask = np.asarray(token_mask)
    area = cell * cell
    return {
        name: int((token_mask == value).sum()) // area
        for name, value in (('masked', MASKED), ('thrown', THROWN), ('visible', VISIBLE))
    }


def draw_panel(img: np.ndarray,
               attn_map: np.ndarray,
               token_mask: np.ndarray,
               recon: np.ndarray,
               mask_cell: int = 1,
               min_tile: int = MIN_TILE,
               title: Optional[str] = None,
               captions: Sequence[str] = _TITLES) -> np.ndarray:
    """Draw the four tiles side by side with captions and the mask legend.

    Args:
        img (np.ndarray): ``(S, S, 3)`` uint8 RGB model input (the deterministic view).
        attn_map (np.ndarray): ``(h, w)`` attention map in [0, 1] at the model patch grid.
        token_mask (np.ndarray): ``(h', w')`` token mask at the model patch grid.
        recon (np.ndarray): ``(S, S, 3)`` uint8 RGB reconstruction (all patches; only the
            masked ones are shown).
        mask_cell (int): Model patches per mask-patch side; the legend counts mask patches.
            Defaults to 1.
        min_tile (int): Smallest tile side in pixels. Defaults to 224.
        title (str, optional): Written at the right end of the legend line (e.g. the image
            name). Defaults to None.
        captions (Sequence[str]): One caption per tile.

    Returns:
        np.ndarray: ``panel_shape(S, min_tile)`` uint8 RGB, see the module docstring.
    """
    size = img.shape[0]
    if img.shape[:2] != (size, size) or recon.shape != img.shape:
        raise ValueError(f'image {img.shape} and reconstruction {recon.shape} must be the same '
                         'square size')
    factor = display_factor(size, min_tile)
    tile = size * factor
    tiles = [
        img,
        heatmap_overlay(img, attn_map),
        mask_tile(token_mask, size),
        reconstruction_tile(img, recon, token_mask),
    ]
    height, width = panel_shape(size, min_tile)
    panel = np.full((height, width, 3), 255, dtype=np.uint8)
    for i, t in enumerate(tiles):
        panel[:tile, i * tile:(i + 1) * tile] = upscale_nearest(t, factor)
    for i, caption in enumerate(captions):
        _put_text(panel, caption, i * tile + 4, tile + 16)
    # Legend line: a swatch of each mask colour and its count in mask patches.
    counts = mask_counts(token_mask, mask_cell)
    x, y = 4, tile + 38
    for name, value in (('masked', MASKED), ('thrown', THROWN), ('visible', VISIBLE)):
        panel[y - 10:y, x:x + 10] = MASK_COLORS[value]
        x = _put_text(panel, f'{name} {counts[name]}', x + 14, y) + 12
    if title:
        text_w = cv2.getTextSize(title, _FONT, _FONT_SCALE, 1)[0][0]
        _put_text(panel, title, max(x, width - text_w - 4), y)
    return panel
