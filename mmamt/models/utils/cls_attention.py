"""The last-layer [CLS] attention that drives AMT, computed from the CLS query row alone.

One routine serves the refresh hook, the visualiser and any backbone that has mmpretrain-style
``TransformerEncoderLayer`` blocks (``ln1`` then ``attn.qkv``): only ``q_cls . K^T`` is formed,
which costs O(N d) per head instead of the O(N^2 d) of the full attention matrix.
"""
import warnings
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def cls_attention_probs(layer: nn.Module,
                        x: torch.Tensor,
                        num_extra_tokens: int = 1) -> torch.Tensor:
    """Softmax attention of the [CLS] query over the patch keys of one block.

    The [CLS] key takes part in the softmax (as in the block's own forward) and is dropped
    afterwards, so the returned rows sum to at most 1.

    Args:
        layer (nn.Module): A transformer block with ``ln1`` and an ``attn`` holding ``qkv``
            (a fused ``Linear`` of width ``3 * embed_dims``) and ``num_heads``, such as
            mmpretrain's ``TransformerEncoderLayer``.
        x (torch.Tensor): The block's input tokens, ``(B, num_extra_tokens + L, C)`` with the
            [CLS] token first.
        num_extra_tokens (int): Leading non-patch tokens to drop from the keys.
            Defaults to 1.

    Returns:
        torch.Tensor: ``(B, num_heads, L)`` float32 attention probabilities.
    """
    attn = layer.attn
    num_heads = attn.num_heads
    h = layer.ln1(x)
    B, N, _ = h.shape
    embed_dims = attn.qkv.out_features // 3
    head_dims = embed_dims // num_heads
    weight, bias = attn.qkv.weight, attn.qkv.bias
    q_w, k_w = weight[:embed_dims], weight[embed_dims:2 * embed_dims]
    q_b = k_b = None
    if bias is not None:
        q_b, k_b = bias[:embed_dims], bias[embed_dims:2 * embed_dims]
    q = F.linear(h[:, :1], q_w, q_b).reshape(B, num_heads, 1, head_dims)
    k = F.linear(h, k_w, k_b).reshape(B, N, num_heads, head_dims).transpose(1, 2)
    # Logits and softmax in float32, also under autocast: fp16 over hundreds of keys loses the
    # small probabilities. Only the O(N d) CLS row is computed this way.
    with torch.autocast(device_type=q.device.type, enabled=False):
        logits = (q.float() @ k.float().transpose(-2, -1)).squeeze(2) * head_dims**-0.5
        return logits.softmax(dim=-1)[..., num_extra_tokens:]


MAP_NORMS = ('minmax', 'max')


def normalize_attention(probs: torch.Tensor,
                        mode: str = 'minmax',
                        eps: float = 1e-6) -> torch.Tensor:
    """Turn per-head [CLS] attention into one map in ``[0, 1]`` per image.

    - ``'minmax'`` (the reference): min-max normalise each head's map over the patches, then
      average the heads. Every map spans the full range, however flat the attention was.
    - ``'max'``: renormalise each head's probabilities over the patches, average the heads and
      divide by the maximum. The map keeps the ratios of the attention probabilities, so the
      sampling weights are proportional to the attention: a flat attention gives nearly
      uniform weights, a peaked one steers strongly.

    Rows that are not finite are replaced by a constant map (uniform weights downstream) with a
    warning; a constant row normalises to zeros (``'minmax'``) or ones (``'max'``) instead of
    dividing by zero.

    Args:
        probs (torch.Tensor): ``(B, num_heads, L)`` attention probabilities.
        mode (str): ``'minmax'`` or ``'max'``. Defaults to ``'minmax'``.
        eps (float): Lower bound of the max - min range (``'minmax'``). Defaults to 1e-6.

    Returns:
        torch.Tensor: ``(B, L)`` float32 map in ``[0, 1]``.
    """
    if mode not in MAP_NORMS:
        raise ValueError(f'map_norm={mode!r} must be one of {MAP_NORMS}')
    probs = probs.float()
    bad = ~torch.isfinite(probs).all(dim=-1, keepdim=True)
    if bad.any():
        warnings.warn(f'{int(bad.sum())} attention rows are not finite; using uniform maps '
                      'for them')
        probs = torch.where(bad, torch.zeros_like(probs), probs)
    if mode == 'max':
        # Softmax probabilities are >= 0. A zero row (all probability on the [CLS] key, or a
        # replaced row) becomes uniform. Each averaged row sums to 1, so its maximum is >= 1 / L.
        probs = torch.where(probs.sum(-1, keepdim=True) > 0, probs, torch.ones_like(probs))
        avg = (probs / probs.sum(-1, keepdim=True)).mean(dim=1)
        return avg / avg.amax(dim=-1, keepdim=True)
    lo = probs.amin(dim=-1, keepdim=True)
    hi = probs.amax(dim=-1, keepdim=True)
    return ((probs - lo) / (hi - lo).clamp_min(eps)).mean(dim=1).clamp_(0, 1)


def last_block_cls_attention(layers: nn.ModuleList,
                             tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run ``tokens`` through every block but the last, and read the last block's [CLS] row.

    Args:
        layers (nn.ModuleList): The encoder's blocks (mmpretrain-style, see
            :func:`cls_attention_probs`).
        tokens (torch.Tensor): ``(B, 1 + N, C)`` input of the first block, [CLS] first.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: the last block's input ``(B, 1 + N, C)`` (run it to
        finish the forward pass) and its per-head [CLS] -> patch attention ``(B, heads, N)``.
    """
    for layer in layers[:-1]:
        tokens = layer(tokens)
    return tokens, cls_attention_probs(layers[-1], tokens)


class CLSAttentionMixin:
    """Adds the AMT attention map to a ViT with mmpretrain-style blocks.

    The host class provides ``embed_all_tokens(x) -> (B, 1 + L, C)`` (all tokens, [CLS] first,
    position embeddings added, nothing masked), ``layers`` and ``patch_resolution``.
    """

    @property
    def input_size(self) -> Tuple[int, int]:
        """``(H, W)`` in pixels of the input the backbone was built for (the refresh view)."""
        stride = self.patch_embed.projection.stride
        return (self.patch_resolution[0] * stride[0], self.patch_resolution[1] * stride[1])

    @torch.no_grad()
    def cls_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Per-head last-layer [CLS] -> patch attention of unmasked images.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.

        Returns:
            torch.Tensor: ``(B, num_heads, L)`` attention probabilities.
        """
        return last_block_cls_attention(self.layers, self.embed_all_tokens(x))[1]

    @torch.no_grad()
    def attention_map(self, x: torch.Tensor, norm: str = 'minmax', source=None) -> torch.Tensor:
        """The AMT map of unmasked images, normalised per image.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            norm (str): ``'minmax'`` (per head, the reference) or ``'max'`` (proportional to
                the attention), see :func:`normalize_attention`. Defaults to ``'minmax'``.
            source (MapSource | dict | str, optional): Where the map comes from
                (:mod:`mmamt.models.utils.map_sources`). Defaults to None: AMT's map, the
                head-averaged last-layer [CLS] attention.

        Returns:
            torch.Tensor: ``(B, h, w)`` float32 map in ``[0, 1]`` at the patch grid of ``x``.
        """
        from .map_sources import build_map_source  # the sources read this module
        return build_map_source(source)(self, x, norm)
