"""A plain ViT for detection in the style of ViTDet, built from mmpretrain's ``ViTSAM`` pieces.

ViTDet (Li et al., "Exploring Plain Vision Transformer Backbones for Object Detection", ECCV 2022,
https://arxiv.org/abs/2203.16527) keeps the pre-trained ViT as it is and only changes how its
attention sees the high-resolution detection input: most blocks attend within non-overlapping
windows, a few attend globally, and decomposed relative positions are added to the attention
logits. The last map (stride 16) is the only feature; :class:`~mmamt.downstream.det.SimpleFPN`
builds the pyramid from it.

Windows, relative positions and the ``ln1``/``attn``/``ln2``/``ffn`` layer are mmpretrain's
(``mmpretrain.models.backbones.vit_sam``). What is added here: layer scale and stochastic depth
on the attention branch (named as in mmpretrain's ``VisionTransformer``), gradient checkpointing,
a ``pos_embed`` stored like ``VisionTransformer``'s (class-token row included, at the
pre-training grid), and strict loading, so that a pre-training checkpoint's ``backbone.*``
tensors load one to one (``tools/model_converters/convert_amt.py IN OUT --to mmdet``).
"""
import math
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmdet.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.utils import to_2tuple
from mmpretrain.models.backbones.vit_sam import (TransformerEncoderLayer, ViTSAM, window_partition,
                                                 window_unpartition)
from mmpretrain.models.utils import LayerScale, resize_pos_embed

from mmamt.utils.compat import vitsam_relative_position_resizer
from ..keymap import KEY_MAPS, Coverage, match_keys, read_state_dict


class ViTDetLayer(TransformerEncoderLayer):
    """mmpretrain's windowed / global SAM layer with layer scale and drop path on both branches.

    The layer scales are ``attn.gamma1`` and ``ffn.gamma2``, the names of mmpretrain's
    ``VisionTransformer`` layer, so MIM checkpoints with layer scale load key for key.

    Args:
        *args: Positional arguments of mmpretrain's ``vit_sam.TransformerEncoderLayer``.
        drop_path_rate (float): Stochastic depth of both residual branches (upstream drops
            the FFN branch only). Defaults to 0.
        layer_scale_init_value (float): Initial layer scale; 0 means none. Defaults to 0.
        **kwargs: Keyword arguments of ``vit_sam.TransformerEncoderLayer`` (``window_size``:
            0 means global attention; ``input_size``, ``use_rel_pos``, ``norm_cfg``, ...).
    """

    def __init__(self,
                 *args,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 **kwargs) -> None:
        super().__init__(*args, drop_path_rate=drop_path_rate, **kwargs)
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path_rate))
        self.attn.gamma1 = nn.Identity()
        if layer_scale_init_value > 0:
            self.attn.gamma1 = LayerScale(self.embed_dims, layer_scale_init_value)
            self.ffn.gamma2 = LayerScale(self.embed_dims, layer_scale_init_value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run attention (windowed or global) and the FFN, each with a residual.

        Args:
            x (torch.Tensor): Tokens of shape ``(B, H, W, C)``.

        Returns:
            torch.Tensor: ``(B, H, W, C)``.
        """
        y = self.ln1(x)
        if self.window_size > 0:
            hw = y.shape[1:3]
            y, padded_hw = window_partition(y, self.window_size)
            y = window_unpartition(self.attn(y), self.window_size, padded_hw, hw)
        else:
            y = self.attn(y)
        x = x + self.drop_path(self.attn.gamma1(y))
        return self.ffn(self.ln2(x), identity=x)


@MODELS.register_module()
class ViTDetBackbone(BaseModule):
    """Plain ViT backbone for detection with windowed and global attention (ViTDet).

    `Exploring Plain Vision Transformer Backbones for Object Detection
    <https://arxiv.org/abs/2203.16527>`_

    Most layers attend within ``window_size`` x ``window_size`` windows of the stride-16 map,
    the layers in ``global_attn_indexes`` attend over the whole map, and every layer adds
    decomposed relative positions to its attention logits. The absolute position embedding is
    kept at the pre-training grid (``pretrain_img_size / patch_size``, class-token row
    included, exactly like mmpretrain's ``pos_embed``) and resampled bicubically to the input's
    grid at every forward; the class-token row is not used.

    Pre-trained weights (``init_cfg=dict(type='Pretrained', checkpoint=...)``) load strictly
    through :func:`mmamt.downstream.keymap.match_keys` with the ``mmdet`` key map: every
    parameter except the relative-position tables ``layers.N.attn.rel_pos_{h,w}`` must come from
    the checkpoint with the right shape (``pos_embed`` of another pre-training grid is
    resampled), and every checkpoint tensor must be used, except ``cls_token`` and
    ``mask_token`` (and ``ln1.*`` with ``final_norm=False``); anything else raises
    :class:`~mmamt.downstream.keymap.KeyCoverageError`. The keys are mmpretrain's
    ``VisionTransformer`` keys without ``backbone.``, as ``convert_amt.py --to mmdet`` writes
    them; a whole-model checkpoint loads with ``init_cfg.prefix='backbone.'``.

    Args:
        arch (str | dict): ``'b'``/``'base'``, ``'l'``/``'large'``, ``'h'``/``'huge'`` (mmpretrain
            ``ViTSAM``'s arch zoo) or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads``, ``feedforward_channels`` (and optionally ``global_attn_indexes``).
            Defaults to ``'b'``.
        img_size (int | Sequence[int]): The detection input size; sizes the relative-position
            tables of the global layers (other sizes are resampled). Defaults to 1024.
        patch_size (int): Patch size (the output stride). Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        pretrain_img_size (int | Sequence[int]): The pre-training image size, which fixes the
            grid ``pos_embed`` is stored at. Defaults to 224.
        window_size (int): Window side of the windowed layers; 0 makes every layer global.
            Defaults to 14.
        global_attn_indexes (Sequence[int], optional): Layers with global attention; default:
            the arch's (every quarter of the depth, e.g. ``(2, 5, 8, 11)`` for ViT-B).
        use_rel_pos (bool): Add decomposed relative positions. Defaults to True.
        qkv_bias (bool): Add a bias to the qkv projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding and in the FFN. Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly to this value over the layers.
            Defaults to 0.1.
        norm_cfg (dict): Norm config of the transformer. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        final_norm (bool): Apply the final norm ``ln1`` to the output map. Defaults to True.
        layer_scale_init_value (float): Initial layer scale (``gamma1`` / ``gamma2``); 0 means
            none. Defaults to 0.
        interpolate_mode (str): Mode for resampling ``pos_embed``. Defaults to ``'bicubic'``.
        with_cp (bool): Gradient checkpointing of each layer (less memory, slower).
            Defaults to False.
        init_cfg (dict, optional): None for random initialisation, or
            ``dict(type='Pretrained', checkpoint=..., prefix=None)``. Defaults to None.
    """

    arch_zoo = ViTSAM.arch_zoo
    num_extra_tokens = 1  # the class-token row of pos_embed, kept so checkpoints fit

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 1024,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 pretrain_img_size: Union[int, Sequence[int]] = 224,
                 window_size: int = 14,
                 global_attn_indexes: Optional[Sequence[int]] = None,
                 use_rel_pos: bool = True,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = True,
                 layer_scale_init_value: float = 0.,
                 interpolate_mode: str = 'bicubic',
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._parse_arch(arch)
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        if global_attn_indexes is None:
            global_attn_indexes = self.arch_settings.get('global_attn_indexes')
            if global_attn_indexes is None:
                raise ValueError('global_attn_indexes must be given for a custom arch (the '
                                 f'layers with global attention, in [0, {self.num_layers}))')
        self.global_attn_indexes = tuple(int(i) for i in global_attn_indexes)
        bad = [i for i in self.global_attn_indexes if not 0 <= i < self.num_layers]
        if bad:
            raise ValueError(f'global_attn_indexes {bad} out of range: layers are '
                             f'0..{self.num_layers - 1}')
        if not isinstance(window_size, int) or window_size < 0:
            raise ValueError(f'window_size must be an int >= 0 (0: all layers global), got '
                             f'{window_size!r}')
        if init_cfg is not None and (not isinstance(init_cfg, dict)
                                     or init_cfg.get('type') != 'Pretrained'):
            raise ValueError("init_cfg must be None or dict(type='Pretrained', checkpoint=..., "
                             f'prefix=None), got {init_cfg!r}')
        img_size = to_2tuple(img_size)
        self.pretrain_grid = tuple(s // patch_size for s in to_2tuple(pretrain_img_size))
        self.interpolate_mode = interpolate_mode
        self.final_norm = final_norm
        self.with_cp = with_cp

        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=self.embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size,
            input_size=img_size)
        num_patches = self.pretrain_grid[0] * self.pretrain_grid[1]
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + num_patches, self.embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        dpr = np.linspace(0, drop_path_rate, self.num_layers)
        self.layers = ModuleList([
            ViTDetLayer(
                embed_dims=self.embed_dims,
                num_heads=self.arch_settings['num_heads'],
                feedforward_channels=self.arch_settings['feedforward_channels'],
                drop_rate=drop_rate,
                drop_path_rate=float(dpr[i]),
                qkv_bias=qkv_bias,
                norm_cfg=norm_cfg,
                use_rel_pos=use_rel_pos,
                window_size=0 if i in self.global_attn_indexes else window_size,
                input_size=tuple(s // patch_size for s in img_size),
                layer_scale_init_value=layer_scale_init_value) for i in range(self.num_layers)
        ])
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)[1]

    def _parse_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'arch={arch!r} is not one of {sorted(self.arch_zoo)}')
            return dict(self.arch_zoo[arch.lower()])
        essential = {'embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'}
        if not isinstance(arch, dict) or not essential <= set(arch):
            raise ValueError(f'a custom arch must be a dict with keys {sorted(essential)}, got '
                             f'{arch!r}')
        return dict(arch)

    def forward(self, x: torch.Tensor) -> tuple:
        """Embed patches, run the layers and return the stride-``patch_size`` map.

        Args:
            x (torch.Tensor): Images of shape ``(B, 3, H, W)``.

        Returns:
            Tuple[torch.Tensor]: One map of shape ``(B, C, H / 16, W / 16)`` (rounded up).
        """
        b = x.shape[0]
        x, hw = self.patch_embed(x)
        pos_embed = resize_pos_embed(self.pos_embed, self.pretrain_grid, hw, self.interpolate_mode,
                                     self.num_extra_tokens)
        x = self.drop_after_pos(x + pos_embed[:, self.num_extra_tokens:])
        x = x.view(b, hw[0], hw[1], self.embed_dims)
        for layer in self.layers:
            if self.with_cp and self.training and x.requires_grad:
                x = cp.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        if self.final_norm:
            x = self.ln1(x)
        return (x.permute(0, 3, 1, 2).contiguous(), )

    def init_weights(self) -> None:
        """Initialise randomly (relative positions at zero), then load ``init_cfg`` strictly."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        trunc_normal_(self.pos_embed, std=.02)
        for name, param in self.named_parameters():
            if 'rel_pos_' in name:
                nn.init.zeros_(param)
        if self.init_cfg is not None:
            if not self.init_cfg.get('checkpoint'):
                raise ValueError("init_cfg=dict(type='Pretrained') needs a 'checkpoint' path")
            self.load_pretrained(
                self.init_cfg['checkpoint'],
                prefix=self.init_cfg.get('prefix'),
                map_location=self.init_cfg.get('map_location', 'cpu'))
        self._is_init = True

    def load_pretrained(self,
                        checkpoint: Union[str, Mapping[str, torch.Tensor]],
                        prefix: Optional[str] = None,
                        map_location: str = 'cpu') -> Coverage:
        """Load pre-trained weights, accounting for every tensor.

        Args:
            checkpoint (str | Mapping[str, torch.Tensor]): A checkpoint path (or URL) or a state
                dict (see :func:`~mmamt.downstream.keymap.read_state_dict`).
            prefix (str, optional): Take only the keys under this prefix and strip it, e.g.
                ``'backbone.'`` for a whole pre-training model. Defaults to None.
            map_location (str): Where to load tensors. Defaults to ``'cpu'``.

        Returns:
            Coverage: What was loaded, new and dropped.

        Raises:
            KeyCoverageError: If a parameter other than the relative-position tables is
                missing, a checkpoint tensor other than ``cls_token`` / ``mask_token`` is unused,
                or a shape does not fit.
        """
        logger = MMLogger.get_current_instance()
        source = checkpoint if isinstance(checkpoint, str) else '<state dict>'
        state_dict = read_state_dict(checkpoint, prefix, map_location)
        if 'pos_embed' in state_dict:
            state_dict['pos_embed'] = self._fit_pos_embed(state_dict['pos_embed'], logger)
        # Tables learnt for another window or input size: upstream's resampling, as at forward.
        vitsam_relative_position_resizer()(self, state_dict, '')
        dropped = {} if self.final_norm else {r'ln1\.(weight|bias)': 'final_norm=False'}
        tensors, coverage = match_keys(state_dict, self.state_dict(), KEY_MAPS['mmdet'],
                                       type(self).__name__, source, dropped)
        coverage.check()  # before anything is loaded
        self.load_state_dict(tensors, strict=False)  # nothing missing but the new tables
        logger.info(coverage.line())
        return coverage

    def _fit_pos_embed(self, value: torch.Tensor, logger: MMLogger) -> torch.Tensor:
        """Bring a square-grid ``(1, [1 +] S * S, C)`` to ``(1, 1 + Hp * Wp, C)``; other shapes
        are left for the checker to report."""
        n = value.shape[1] if value.dim() == 3 else 0
        if n and math.isqrt(n - 1)**2 != n - 1 and math.isqrt(n)**2 == n:
            # Saved without a class-token row (that row is never used here).
            value = torch.cat([value.new_zeros(1, 1, value.shape[2]), value], dim=1)
            n += 1
        side = math.isqrt(n - 1) if n else 0
        if side * side != n - 1 or side == 0 or (side, side) == self.pretrain_grid:
            return value
        logger.info(f'{type(self).__name__}: pos_embed resampled from a {side}x{side} to the '
                    f'{self.pretrain_grid[0]}x{self.pretrain_grid[1]} grid '
                    '(pretrain_img_size / patch_size)')
        return resize_pos_embed(value, (side, side), self.pretrain_grid, self.interpolate_mode,
                                self.num_extra_tokens)
