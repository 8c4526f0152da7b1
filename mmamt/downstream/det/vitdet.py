"""A plain ViT for detection in the style of ViTDet, loading MIM checkpoints key for key.

ViTDet (Li et al., "Exploring Plain Vision Transformer Backbones for Object Detection", ECCV 2022,
https://arxiv.org/abs/2203.16527) keeps the pre-trained ViT as it is and only changes how its
attention sees the high-resolution detection input: most blocks attend within non-overlapping
windows, a few blocks attend globally, and decomposed relative positions are added to the
attention logits. The last map (stride 16) is the only feature; a simple feature pyramid
(:class:`~mmamt.downstream.det.SimpleFPN`) is built from it.

The parameter names are those of mmpretrain's ``VisionTransformer`` (and so of ``MAEViT`` and
mmamt's ``AMTMAEViT`` / ``AMTSimMIMViT``), so a pre-training checkpoint's ``backbone.*`` tensors
load one to one once the prefix is removed
(``tools/model_converters/convert_amt.py IN OUT --to mmdet``).
"""
import math
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.scale import LayerScale
from mmcv.cnn.bricks.transformer import FFN, PatchEmbed
from mmdet.registry import MODELS

from ..errors import PretrainedKeyError
from mmengine.logging import MMLogger
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmengine.runner.checkpoint import _load_checkpoint
from mmengine.utils import to_2tuple

# Parameters a plain ViT pre-training checkpoint cannot have; they start at zero.
NEW_PARAM_PATTERN = re.compile(r'^layers\.\d+\.attn\.rel_pos_[hw]$')
# Pre-training tensors ViTDet leaves out on purpose, with the reason.
DROPPED_BY_DESIGN = {
    'cls_token': 'no class token in detection',
    'mask_token': 'pre-training mask token',
}


def window_partition(x: torch.Tensor,
                     window_size: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Cut a token map into non-overlapping square windows, zero-padding the border.

    Args:
        x (torch.Tensor): Tokens of shape ``(B, H, W, C)``.
        window_size (int): The window side ``w``.

    Returns:
        Tuple[torch.Tensor, Tuple[int, int]]: Windows of shape ``(B * nH * nW, w, w, C)`` and
        the padded size ``(Hp, Wp)``.
    """
    b, h, w, c = x.shape
    pad_h = (window_size - h % window_size) % window_size
    pad_w = (window_size - w % window_size) % window_size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    x = x.view(b, hp // window_size, window_size, wp // window_size, window_size, c)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size, window_size, c)
    return windows, (hp, wp)


def window_unpartition(windows: torch.Tensor, window_size: int, padded_hw: Tuple[int, int],
                       hw: Tuple[int, int]) -> torch.Tensor:
    """Put windows back into a token map and remove the padding (inverse of the partition).

    Args:
        windows (torch.Tensor): Windows of shape ``(B * nH * nW, w, w, C)``.
        window_size (int): The window side ``w``.
        padded_hw (Tuple[int, int]): The padded size ``(Hp, Wp)``.
        hw (Tuple[int, int]): The size ``(H, W)`` before padding.

    Returns:
        torch.Tensor: Tokens of shape ``(B, H, W, C)``.
    """
    hp, wp = padded_hw
    h, w = hw
    nh, nw = hp // window_size, wp // window_size
    b = windows.shape[0] // (nh * nw)
    x = windows.view(b, nh, nw, window_size, window_size, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, :h, :w, :].contiguous()


def relative_position_table(table: torch.Tensor, size: int) -> torch.Tensor:
    """Gather the embeddings of all query-key offsets along one axis.

    Args:
        table (torch.Tensor): Embeddings of offsets ``-(S - 1) .. S - 1``, shape
            ``(2 * S - 1, D)``, learnt for some side ``S``.
        size (int): The side of the attended map along this axis.

    Returns:
        torch.Tensor: ``(size, size, D)``; entry ``[i, j]`` embeds offset ``i - j``. A table learnt
        for another side is resampled linearly first, as ViTDet does.
    """
    length = 2 * size - 1
    if table.shape[0] != length:
        table = F.interpolate(
            table.t().unsqueeze(0), size=length, mode='linear', align_corners=False)
        table = table.squeeze(0).t()
    coords = torch.arange(size, device=table.device)
    offsets = coords[:, None] - coords[None, :] + (size - 1)
    return table[offsets]


def resize_grid_pos_embed(pos_embed: torch.Tensor,
                          src_hw: Tuple[int, int],
                          dst_hw: Tuple[int, int],
                          mode: str = 'bicubic') -> torch.Tensor:
    """Resample patch position embeddings from one grid to another.

    Args:
        pos_embed (torch.Tensor): ``(1, Hs * Ws, C)``, no class-token row.
        src_hw (Tuple[int, int]): The grid ``(Hs, Ws)`` they were learnt for.
        dst_hw (Tuple[int, int]): The grid ``(Hd, Wd)`` wanted.
        mode (str): ``F.interpolate`` mode. Defaults to ``'bicubic'``.

    Returns:
        torch.Tensor: ``(1, Hd * Wd, C)``.
    """
    if tuple(src_hw) == tuple(dst_hw):
        return pos_embed
    c = pos_embed.shape[-1]
    grid = pos_embed.reshape(1, src_hw[0], src_hw[1], c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(dst_hw), mode=mode, align_corners=False)
    return grid.flatten(2).transpose(1, 2)


class RelPosAttention(BaseModule):
    """Multi-head self-attention over a 2D token map with decomposed relative positions.

    The bias added to the logit of query ``(i, j)`` and key ``(k, l)`` is
    ``q . R_h[i - k] + q . R_w[j - l]`` (ViTDet / MViTv2), with tables ``rel_pos_h`` and
    ``rel_pos_w`` that start at zero, so a freshly loaded pre-trained ViT attends exactly as in
    pre-training. Parameter names follow mmpretrain's ``MultiheadAttention`` (``qkv``, ``proj``,
    ``gamma1``).

    Args:
        embed_dims (int): The channels ``C``.
        num_heads (int): The number of heads; must divide ``embed_dims``.
        input_size (Tuple[int, int]): The map size the relative-position tables are made for
            (the window, or the whole grid of a global block); other sizes are resampled.
        qkv_bias (bool): Add a bias to the qkv projection. Defaults to True.
        use_rel_pos (bool): Add decomposed relative positions. Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection. Defaults to 0.
        layer_scale_init_value (float): Initial layer scale ``gamma1``; 0 means no layer scale.
            Defaults to 0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 input_size: Tuple[int, int],
                 qkv_bias: bool = True,
                 use_rel_pos: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 layer_scale_init_value: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide embed_dims={embed_dims}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, self.head_dims))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, self.head_dims))
        if layer_scale_init_value > 0:
            self.gamma1 = LayerScale(embed_dims, scale=layer_scale_init_value)
        else:
            self.gamma1 = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend over every token of each map.

        Args:
            x (torch.Tensor): Tokens of shape ``(B, H, W, C)`` (``B`` counts windows).

        Returns:
            torch.Tensor: ``(B, H, W, C)``.
        """
        b, h, w, c = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, self.head_dims)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, HW, d)
        bias = None
        if self.use_rel_pos:
            # The relative terms use the unscaled query, as in ViTDet.
            r_q = q.reshape(b, self.num_heads, h, w, self.head_dims)
            rel_h = torch.einsum('bnhwd,hkd->bnhwk', r_q,
                                 relative_position_table(self.rel_pos_h, h))
            rel_w = torch.einsum('bnhwd,wkd->bnhwk', r_q,
                                 relative_position_table(self.rel_pos_w, w))
            bias = (rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).reshape(
                b, self.num_heads, h * w, h * w)
        # A float mask is added to the scaled logits, which is exactly the relative bias.
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.attn_drop if self.training else 0.)
        out = out.transpose(1, 2).reshape(b, h, w, c)
        return self.gamma1(self.proj_drop(self.proj(out)))


class ViTDetLayer(BaseModule):
    """One pre-norm transformer layer attending within windows or over the whole map.

    Parameter names are those of mmpretrain's ``TransformerEncoderLayer``: ``ln1``, ``attn``,
    ``ln2``, ``ffn`` (``ffn.layers.0.0`` and ``ffn.layers.1`` are the two linear maps,
    ``ffn.gamma2`` the FFN layer scale).

    Args:
        embed_dims (int): The channels ``C``.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden width of the FFN.
        window_size (int): Window side; 0 means global attention.
        input_size (Tuple[int, int]): Map size of a global layer (patch grid of the detection
            input); only sizes its relative-position tables.
        use_rel_pos (bool): Add decomposed relative positions. Defaults to True.
        qkv_bias (bool): Add a bias to the qkv projection. Defaults to True.
        drop_rate (float): Dropout after projections. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth of both residual branches. Defaults to 0.
        layer_scale_init_value (float): Initial layer scale; 0 means none. Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN', eps=1e-6)``.
        act_cfg (dict): FFN activation. Defaults to ``dict(type='GELU')``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 feedforward_channels: int,
                 window_size: int,
                 input_size: Tuple[int, int],
                 use_rel_pos: bool = True,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.window_size = window_size
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = RelPosAttention(
            embed_dims,
            num_heads,
            input_size=(window_size, window_size) if window_size > 0 else input_size,
            qkv_bias=qkv_bias,
            use_rel_pos=use_rel_pos,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate,
            layer_scale_init_value=layer_scale_init_value)
        self.drop_path = build_dropout(dict(type='DropPath', drop_prob=drop_path_rate))
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels,
            num_fcs=2,
            ffn_drop=drop_rate,
            dropout_layer=dict(type='DropPath', drop_prob=drop_path_rate),
            act_cfg=act_cfg,
            layer_scale_init_value=layer_scale_init_value)

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
            y = self.attn(y)
            y = window_unpartition(y, self.window_size, padded_hw, hw)
        else:
            y = self.attn(y)
        x = x + self.drop_path(y)
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

    Pre-trained weights (``init_cfg=dict(type='Pretrained', checkpoint=...)``) load strictly:
    every parameter except the relative-position tables ``layers.N.attn.rel_pos_{h,w}`` must
    come from the checkpoint with the right shape (``pos_embed`` of another pre-training grid
    is resampled), and every checkpoint tensor must be used, except ``cls_token`` and
    ``mask_token`` (and ``ln1.*`` with ``final_norm=False``). Anything else raises
    :class:`PretrainedKeyError`. The expected keys are mmpretrain's
    ``VisionTransformer`` keys without ``backbone.``, as written by
    ``tools/model_converters/convert_amt.py IN OUT --to mmdet``; a whole-model checkpoint
    (``backbone.*`` keys) loads with ``init_cfg.prefix='backbone.'``.

    Args:
        arch (str | dict): ``'b'``/``'base'``, ``'l'``/``'large'``, ``'h'``/``'huge'`` or a dict
            with ``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels`` (and
            optionally ``global_attn_indexes``). Defaults to ``'b'``.
        img_size (int | Sequence[int]): The detection input size; sizes the relative-position
            tables of the global layers (other sizes are resampled). Defaults to 1024.
        patch_size (int): Patch size (the output stride). Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        pretrain_img_size (int | Sequence[int]): The pre-training image size, which fixes the
            grid ``pos_embed`` is stored at. Defaults to 224.
        window_size (int): Window side of the windowed layers. Defaults to 14.
        global_attn_indexes (Sequence[int], optional): Layers with global attention; default:
            the arch's (every quarter of the depth, e.g. ``(2, 5, 8, 11)`` for ViT-B).
        use_rel_pos (bool): Add decomposed relative positions. Defaults to True.
        qkv_bias (bool): Add a bias to the qkv projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding and projections.
            Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
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

    arch_zoo = {
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072,
            global_attn_indexes=(2, 5, 8, 11))),
        **dict.fromkeys(['l', 'large'], dict(
            embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096,
            global_attn_indexes=(5, 11, 17, 23))),
        **dict.fromkeys(['h', 'huge'], dict(
            embed_dims=1280, num_layers=32, num_heads=16, feedforward_channels=5120,
            global_attn_indexes=(7, 15, 23, 31))),
    }
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
                 attn_drop_rate: float = 0.,
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

        self.patch_size = patch_size
        self.img_size = to_2tuple(img_size)
        self.pretrain_img_size = to_2tuple(pretrain_img_size)
        self.pretrain_grid = (self.pretrain_img_size[0] // patch_size,
                              self.pretrain_img_size[1] // patch_size)
        self.input_grid = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        self.window_size = window_size
        self.interpolate_mode = interpolate_mode
        self.final_norm = final_norm
        self.with_cp = with_cp

        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=self.embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size,
            input_size=self.img_size)
        num_patches = self.pretrain_grid[0] * self.pretrain_grid[1]
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + num_patches, self.embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        dpr = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = ModuleList()
        for i in range(self.num_layers):
            self.layers.append(
                ViTDetLayer(
                    embed_dims=self.embed_dims,
                    num_heads=self.arch_settings['num_heads'],
                    feedforward_channels=self.arch_settings['feedforward_channels'],
                    window_size=0 if i in self.global_attn_indexes else window_size,
                    input_size=self.input_grid,
                    use_rel_pos=use_rel_pos,
                    qkv_bias=qkv_bias,
                    drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    drop_path_rate=dpr[i],
                    layer_scale_init_value=layer_scale_init_value,
                    norm_cfg=norm_cfg))
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

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Embed patches, run the layers and return the stride-``patch_size`` map.

        Args:
            x (torch.Tensor): Images of shape ``(B, 3, H, W)``.

        Returns:
            Tuple[torch.Tensor]: One map of shape ``(B, C, H / 16, W / 16)`` (rounded up).
        """
        b = x.shape[0]
        x, hw = self.patch_embed(x)
        pos_embed = resize_grid_pos_embed(self.pos_embed[:, self.num_extra_tokens:],
                                          self.pretrain_grid, hw, self.interpolate_mode)
        x = self.drop_after_pos(x + pos_embed)
        x = x.view(b, hw[0], hw[1], self.embed_dims)
        for layer in self.layers:
            if self.with_cp and self.training and x.requires_grad:
                x = cp.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        if self.final_norm:
            x = self.ln1(x)
        return (x.permute(0, 3, 1, 2).contiguous(), )

    # ------------------------------------------------------------------------------------------
    # Initialisation and strict loading
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        """Initialise randomly, then load ``init_cfg.checkpoint`` strictly when given."""
        self.apply(self._init_module)
        trunc_normal_(self.pos_embed, std=.02)
        for name, param in self.named_parameters():
            if NEW_PARAM_PATTERN.match(name):
                nn.init.zeros_(param)
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            if not self.init_cfg.get('checkpoint'):
                raise ValueError("init_cfg=dict(type='Pretrained') needs a 'checkpoint' path")
            self.load_pretrained(
                self.init_cfg['checkpoint'],
                prefix=self.init_cfg.get('prefix'),
                map_location=self.init_cfg.get('map_location', 'cpu'))
        self._is_init = True

    def load_pretrained(self,
                        checkpoint: Union[str, Dict[str, torch.Tensor]],
                        prefix: Optional[str] = None,
                        map_location: str = 'cpu') -> Dict[str, List[str]]:
        """Load pre-trained weights, accounting for every tensor.

        Args:
            checkpoint (str | Dict[str, torch.Tensor]): A checkpoint path (or URL) holding
                ``{'state_dict': ...}``, ``{'model': ...}`` or a bare state dict, or a state dict.
            prefix (str, optional): Take only the keys under this prefix and strip it, e.g.
                ``'backbone.'`` for a whole pre-training model. Defaults to None.
            map_location (str): Where to load tensors. Defaults to ``'cpu'``.

        Returns:
            Dict[str, List[str]]: ``loaded``, ``new`` and ``dropped`` key lists.

        Raises:
            PretrainedKeyError: If a parameter other than the relative-position tables is
                missing, a checkpoint tensor other than ``cls_token`` / ``mask_token`` is unused,
                or a shape does not fit.
        """
        logger = MMLogger.get_current_instance()
        source = checkpoint if isinstance(checkpoint, str) else '<state dict>'
        state_dict = self._read_state_dict(checkpoint, map_location)
        if prefix:
            state_dict = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                                     if k.startswith(prefix))
            if not state_dict:
                raise PretrainedKeyError(
                    f'{source}: no key starts with init_cfg.prefix={prefix!r}')

        own = self.state_dict()
        dropped = dict(DROPPED_BY_DESIGN)
        if not self.final_norm:
            dropped.update({'ln1.weight': 'final_norm=False', 'ln1.bias': 'final_norm=False'})
        loadable: Dict[str, torch.Tensor] = OrderedDict()
        notes, unexpected, mismatched, dropped_keys = [], [], [], []
        for key, value in state_dict.items():
            if key in dropped and key not in own:
                dropped_keys.append(key)
                continue
            if key not in own:
                unexpected.append(key)
                continue
            if key == 'pos_embed':
                value, note = self._fit_pos_embed(value)
                if note:
                    notes.append(note)
            elif NEW_PARAM_PATTERN.match(key) and value.dim() == 2 \
                    and value.shape[1:] == own[key].shape[1:] \
                    and value.shape[0] != own[key].shape[0]:
                # A table learnt for another window / input size, resampled like at forward.
                value = F.interpolate(value.t().unsqueeze(0), size=own[key].shape[0],
                                      mode='linear', align_corners=False).squeeze(0).t()
                notes.append(f'{key} resampled from {state_dict[key].shape[0]} to '
                             f'{own[key].shape[0]} offsets')
            if value is None or value.shape != own[key].shape:
                got = tuple(state_dict[key].shape)
                mismatched.append(f'{key}: checkpoint {got}, model {tuple(own[key].shape)}')
                continue
            loadable[key] = value
        new = [k for k in own if k not in state_dict and NEW_PARAM_PATTERN.match(k)]
        missing = [k for k in own if k not in state_dict and not NEW_PARAM_PATTERN.match(k)]
        if missing or unexpected or mismatched:
            raise PretrainedKeyError(
                self._describe_failure(source, missing, unexpected, mismatched, state_dict))

        self.load_state_dict(loadable, strict=False)
        expected = len(own) - len(new)
        dropped_txt = ', '.join(dropped_keys) if dropped_keys else 'none'
        logger.info(f'ViTDetBackbone: loaded {len(loadable)}/{expected} pre-trained tensors; '
                    f'new: {len(new)} rel_pos; dropped: {dropped_txt} (from {source})')
        for note in notes:
            logger.info(f'ViTDetBackbone: {note}')
        return dict(loaded=list(loadable), new=new, dropped=dropped_keys)

    @staticmethod
    def _read_state_dict(checkpoint: Union[str, Dict[str, torch.Tensor]],
                         map_location: str) -> Dict[str, torch.Tensor]:
        ckpt = checkpoint
        if isinstance(checkpoint, str):
            ckpt = _load_checkpoint(checkpoint, map_location=map_location)
        if not isinstance(ckpt, dict):
            raise PretrainedKeyError(
                f'{checkpoint!r} holds a {type(ckpt).__name__}, not a state dict')
        for key in ('state_dict', 'model'):
            if isinstance(ckpt.get(key), dict):
                return ckpt[key]
        return ckpt

    def _fit_pos_embed(self, value: torch.Tensor) -> Tuple[Optional[torch.Tensor], str]:
        """Bring a checkpoint ``pos_embed`` to ``(1, 1 + Hp * Wp, C)`` at our pre-train grid."""
        if value.dim() != 3 or value.shape[0] != 1 or value.shape[2] != self.embed_dims:
            return None, ''
        n = value.shape[1]
        if math.isqrt(n - 1)**2 == n - 1:
            extra, patches = value[:, :1], value[:, 1:]
        elif math.isqrt(n)**2 == n:
            # Saved without a class-token row; that row is never used here.
            extra, patches = value.new_zeros(1, 1, self.embed_dims), value
        else:
            return None, ''
        side = math.isqrt(patches.shape[1])
        if (side, side) == self.pretrain_grid:
            return torch.cat([extra, patches], dim=1), ''
        patches = resize_grid_pos_embed(patches, (side, side), self.pretrain_grid,
                                        self.interpolate_mode)
        note = (f'pos_embed resampled from a {side}x{side} to the '
                f'{self.pretrain_grid[0]}x{self.pretrain_grid[1]} grid '
                '(pretrain_img_size / patch_size)')
        return torch.cat([extra, patches], dim=1), note

    @staticmethod
    def _describe_failure(source: str, missing: List[str], unexpected: List[str],
                          mismatched: List[str], state_dict: Dict[str, torch.Tensor]) -> str:
        def listing(title: str, names: List[str]) -> str:
            shown = ', '.join(names[:8]) + (f', ... ({len(names) - 8} more)'
                                            if len(names) > 8 else '')
            return f'\n  {title} ({len(names)}): {shown}'

        msg = f'pre-trained checkpoint {source} does not fit ViTDetBackbone:'
        if missing:
            msg += listing('missing', missing)
        if unexpected:
            msg += listing('unexpected', unexpected)
        if mismatched:
            msg += listing('wrong shape', mismatched)
        if any(k.startswith('backbone.') for k in state_dict):
            msg += ("\n  The keys carry a 'backbone.' prefix: convert the checkpoint with "
                    "`python tools/model_converters/convert_amt.py IN OUT --to mmdet` or set "
                    "init_cfg.prefix='backbone.'.")
        elif any(k.startswith('blocks.') for k in state_dict):
            msg += ('\n  The keys look like timm / official MAE names (blocks.N.*); convert '
                    'them to mmpretrain VisionTransformer names first.')
        return msg
