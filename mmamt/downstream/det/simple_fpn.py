"""The simple feature pyramid of ViTDet: strides 4 to 32 from one stride-16 map."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from mmpretrain.models.utils import LayerNorm2d

# ViTDet's channel LayerNorm (``norm_cfg=dict(type='LN2d')`` in the pyramid and the RoI heads) is
# mmpretrain's; mmcv's build_norm_layer looks it up in the registry of the current scope, which
# is mmdet's for mmdet configs.
if 'LN2d' not in MODELS.module_dict:
    MODELS.register_module('LN2d', module=LayerNorm2d)


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Simple feature pyramid from a plain ViT's single stride-16 map (ViTDet).

    `Exploring Plain Vision Transformer Backbones for Object Detection
    <https://arxiv.org/abs/2203.16527>`_

    The stride-16 map ``(B, C, H, W)`` is turned into four scales without lateral or top-down
    connections: stride 4 by two 2x2 deconvolutions (``C -> C/2 -> C/4``, with norm and GELU
    between them), stride 8 by one deconvolution (``C -> C/2``), stride 16 as it is, stride 32
    by 2x2 max pooling. Each scale then gets a 1x1 and a 3x3 convolution, each followed by a
    norm, to ``out_channels``. With ``num_outs=5`` a stride-64 map is added by subsampling the
    stride-32 output (``max_pool2d(kernel_size=1, stride=2)``), as mmdet's ``FPN`` does without
    extra convolutions, so RPN/RoI heads written for ``FPN`` take it unchanged.

    Args:
        backbone_channel (int): Channels ``C`` of the backbone map.
        out_channels (int): Channels of every output level.
        in_channels (Sequence[int], optional): Channels of the four scales before the output
            convolutions; must be ``[C/4, C/2, C, C]`` (the default), given for symmetry with
            mmdet's ``FPN`` configs.
        num_outs (int): Number of outputs, 4 (strides 4-32) or 5 (plus stride 64).
            Defaults to 5.
        norm_cfg (dict): Norm after every convolution. Defaults to
            ``dict(type='LN2d', eps=1e-6)``.
        act_cfg (dict, optional): Activation after the output convolutions (ViTDet has none).
            Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to
            ``dict(type='Xavier', layer=['Conv2d', 'ConvTranspose2d'], distribution='uniform')``.
    """

    def __init__(
        self,
        backbone_channel: int,
        out_channels: int,
        in_channels: Optional[Sequence[int]] = None,
        num_outs: int = 5,
        norm_cfg: dict = dict(type='LN2d', eps=1e-6),
        act_cfg: Optional[dict] = None,
        init_cfg: Optional[dict] = dict(
            type='Xavier', layer=['Conv2d', 'ConvTranspose2d'], distribution='uniform')
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        c = backbone_channel
        if c % 4:
            raise ValueError(f'backbone_channel must be divisible by 4, got {c}')
        expected = [c // 4, c // 2, c, c]
        if in_channels is not None and list(in_channels) != expected:
            raise ValueError(f'in_channels must be {expected} for backbone_channel={c}, got '
                             f'{list(in_channels)}')
        if num_outs not in (4, 5):
            raise ValueError(f'num_outs must be 4 (strides 4-32) or 5 (plus stride 64), got '
                             f'{num_outs}')
        self.backbone_channel = c
        self.in_channels = expected
        self.out_channels = out_channels
        self.num_outs = num_outs

        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(c, c // 2, 2, 2),
            build_norm_layer(norm_cfg, c // 2)[1], nn.GELU(),
            nn.ConvTranspose2d(c // 2, c // 4, 2, 2))
        self.fpn2 = nn.Sequential(nn.ConvTranspose2d(c, c // 2, 2, 2))
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(kernel_size=2, stride=2)

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for ch in self.in_channels:
            # The norm follows directly, so a conv bias would be redundant.
            self.lateral_convs.append(
                ConvModule(ch, out_channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=act_cfg))
            self.fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    bias=False,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Build the pyramid.

        Args:
            inputs (Sequence[torch.Tensor]): The backbone output; its last map,
                ``(B, C, H, W)`` at stride 16, is used.

        Returns:
            Tuple[torch.Tensor, ...]: ``num_outs`` maps with ``out_channels`` channels at
            strides 4, 8, 16, 32 (and 64): ``(B, out, 4H, 4W)``, ``(B, out, 2H, 2W)``,
            ``(B, out, H, W)``, ``(B, out, H/2, W/2)`` (and ``(B, out, H/4, W/4)``), pooled
            sizes rounded down.
        """
        x = inputs[-1]
        if x.dim() != 4 or x.shape[1] != self.backbone_channel:
            raise ValueError(f'SimpleFPN expects a (B, {self.backbone_channel}, H, W) map, got '
                             f'{tuple(x.shape)}')
        scales: List[torch.Tensor] = [self.fpn1(x), self.fpn2(x), self.fpn3(x), self.fpn4(x)]
        outs = [
            fpn_conv(lateral(s))
            for s, lateral, fpn_conv in zip(scales, self.lateral_convs, self.fpn_convs)
        ]
        if self.num_outs == 5:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
