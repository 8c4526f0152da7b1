"""The model side of the AMT pictures: attention maps, reconstructions, un-normalising.

One function, :func:`reconstruct`, knows how each AMT algorithm turns a token mask into pixels;
the panel drawing and the training hook only see full-grid patches.
"""

import numpy as np
import torch
import torch.nn as nn
from mmpretrain.utils import get_ori_model

from mmamt.engine.refresh import batch_maps
from mmamt.models.utils import MASKED, has_pixel_target
from mmamt.utils import eval_mode
from mmamt.utils.compat import converts_channels, normalizes_inputs


def attention_maps(model: nn.Module, inputs: torch.Tensor, norm: str, source=None) -> torch.Tensor:
    """The AMT attention map of each (normalised) input, exactly as the bank holds it.

    Args:
        model (nn.Module): An AMT algorithm whose backbone has ``attention_map``.
        inputs (torch.Tensor): ``(B, 3, H, W)`` output of the model's data preprocessor.
        norm (str): ``AMTMaskGenerator.map_norm`` (the bank records it).
        source (MapSource | dict | str, optional): The refresh hook's ``map_source`` (the bank
            records it). Defaults to None (the last-layer [CLS] attention).

    Returns:
        torch.Tensor: ``(B, h, w)`` float32 maps in [0, 1] at the model patch grid, quantised
        as the bank stores them (:func:`mmamt.engine.refresh.batch_maps`).
    """
    return batch_maps(model, inputs, norm, source=source).float() / 255


@torch.no_grad()
def reconstruct(model: nn.Module, inputs: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
    """Every patch of the input, with the masked ones replaced by the model's prediction.

    The prediction is the algorithm's own ``predict_patches`` (what its loss sees): for
    ``MAEAMT`` / ``MFFAMT`` the throwing decoder's masked patches, for ``SimMIMAMT`` the linear
    decoder's masked tokens. Only algorithms with a pixel target can be drawn this way (a head
    with ``patchify``, mmpretrain's ``MAEPretrainHead``); MaskFeat's HOG and EVA's teacher
    features are not pixels.

    With ``head.norm_pix`` the prediction is in per-patch normalised units; it is brought back
    with each patch's own mean and std of the target (the input patch), as MAE's visualisations
    do. Visible and thrown patches are the input's own pixels; the caller decides how to show
    them.

    Args:
        model (nn.Module): An AMT algorithm with a pixel target (wrapped or not).
        inputs (torch.Tensor): ``(B, 3, H, W)`` output of the model's data preprocessor.
        token_mask (torch.Tensor): ``(B, L)`` or ``(B, h, w)`` at the model patch grid, 1 masked,
            -1 thrown, 0 visible; same counts for every sample.

    Returns:
        torch.Tensor: ``(B, L, p * p * 3)`` float32 patches in the input's normalised space,
        in the order of ``model.head.patchify`` (use ``model.head.unpatchify`` for images).

    Raises:
        TypeError: If the model is not an AMT algorithm with a pixel target.
    """
    model = get_ori_model(model)
    if not has_pixel_target(model):
        raise TypeError(f'reconstruct() draws AMT algorithms with a pixel target (a head with '
                        f'patchify, e.g. MAEAMT, MFFAMT, SimMIMAMT), got {type(model).__name__} '
                        f'with {type(getattr(model, "head", None)).__name__}: set '
                        'default_hooks.amt_refresh.num_panels=0 for it')
    token_mask = token_mask.reshape(token_mask.shape[0], -1).long().to(inputs.device)
    target = model.head.patchify(inputs).float()  # (B, L, p*p*3)
    if target.shape[1] != token_mask.shape[1]:
        raise ValueError(f'the token mask has {token_mask.shape[1]} entries per image but the '
                         f'head cuts the input into {target.shape[1]} patches')
    with eval_mode(model):
        pred, token_mask = model.predict_patches(inputs, token_mask)
    pred = pred.float()
    if getattr(model.head, 'norm_pix', False):
        # The same statistics as MAEPretrainHead.construct_target, taken from the true patch.
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        pred = pred * (var + 1.e-6)**.5 + mean
    return torch.where((token_mask == MASKED).unsqueeze(-1), pred, target)


def unnormalize(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """Images in the model's normalised space back to displayable uint8 RGB.

    Undoes the data preprocessor's ``(x - mean) / std``; channels are flipped to RGB unless the
    preprocessor already did (``to_rgb=True``), assuming BGR loading as ``LoadImageFromFile``.

    Args:
        model (nn.Module): The model whose ``data_preprocessor`` made ``inputs``.
        inputs (torch.Tensor): ``(B, 3, H, W)``.

    Returns:
        np.ndarray: ``(B, H, W, 3)`` uint8 RGB.
    """
    pre = get_ori_model(model).data_preprocessor
    x = inputs.detach().float().cpu()
    if normalizes_inputs(pre):
        x = x * pre.std.float().cpu().view(1, -1, 1, 1) + pre.mean.float().cpu().view(1, -1, 1, 1)
    if not converts_channels(pre):
        x = x.flip(1)
    return x.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def patches_to_images(model: nn.Module, patches: torch.Tensor) -> torch.Tensor:
    """``(B, L, p*p*3)`` patches (the head's order) to ``(B, 3, H, W)`` images."""
    return get_ori_model(model).head.unpatchify(patches)
