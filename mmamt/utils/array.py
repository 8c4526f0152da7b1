"""Array helpers shared by the data pipeline and the pictures."""
from typing import Optional

import numpy as np


def upscale_nearest(img: np.ndarray, factor: int, factor_x: Optional[int] = None) -> np.ndarray:
    """Nearest-neighbour upscaling by integer factors (each value becomes a constant block).

    Args:
        img (np.ndarray): ``(H, W)`` or ``(H, W, C)``.
        factor (int): Factor along the rows (and the columns, unless ``factor_x`` is given).
        factor_x (int, optional): Factor along the columns. Defaults to ``factor``.

    Returns:
        np.ndarray: ``(H * factor, W * factor_x[, C])``, same dtype.
    """
    return img.repeat(factor, axis=0).repeat(factor if factor_x is None else factor_x, axis=1)
