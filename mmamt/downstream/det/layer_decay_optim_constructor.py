"""Layer-wise learning-rate decay for detectors with a plain-ViT backbone."""
import re
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMDET_CONSTRUCTORS
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_CONSTRUCTORS

_LAYER_RE = re.compile(r'^backbone\.layers\.(\d+)\.')
# Parameters that sit before the first layer.
_EMBEDDING_NAMES = ('backbone.patch_embed.', 'backbone.pos_embed', 'backbone.cls_token',
                    'backbone.mask_token')
# Parameters exempt from weight decay besides 1-D ones (biases, norms, layer scales).
_NO_DECAY_SUFFIXES = ('pos_embed', 'cls_token', 'mask_token', 'rel_pos_h', 'rel_pos_w')


@MMDET_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise lr decay for a plain-ViT detector with mmpretrain parameter names.

    Every parameter gets a layer id: ``backbone.patch_embed.*``, ``backbone.pos_embed``,
    ``backbone.cls_token`` and ``backbone.mask_token`` are layer 0, ``backbone.layers.N.*`` is
    layer ``N + 1``, and everything else (the backbone's final norm, the neck, the heads) is
    layer ``num_layers + 1``. A parameter of layer ``i`` trains with
    ``lr * decay_rate ** (num_layers + 1 - i)``, so the heads get the base lr and the patch
    embedding the smallest. 1-D parameters (biases, norms, layer scales), ``pos_embed``, the
    tokens and the relative-position tables ``rel_pos_{h,w}`` get no weight decay.

    mmdet's and mmseg's layer-decay constructors key on backbone class names and other
    parameter names, and on an unknown backbone leave every group at the base lr without a
    word. This one raises instead: when no ``backbone.layers.N`` parameter exists, or when
    ``N`` reaches ``num_layers``.

    Args:
        optim_wrapper_cfg (dict): The optimizer wrapper config; ``optimizer.lr`` is the base lr
            and ``optimizer.weight_decay`` the base weight decay.
        paramwise_cfg (dict): ``num_layers`` (int, the backbone depth) and ``decay_rate``
            (float in (0, 1], default 1.0 meaning no decay). No other key is accepted.
    """

    ALLOWED_KEYS = ('num_layers', 'decay_rate')

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(paramwise_cfg) - set(self.ALLOWED_KEYS))
        if unknown:
            raise ValueError(f'paramwise_cfg keys {unknown} are not supported by '
                             f'ViTLayerDecayOptimizerConstructor; allowed: {self.ALLOWED_KEYS}')
        num_layers = paramwise_cfg.get('num_layers')
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError('paramwise_cfg.num_layers must be the backbone depth (an int >= 1), '
                             f'got {num_layers!r}')
        decay_rate = paramwise_cfg.setdefault('decay_rate', 1.0)
        if not isinstance(decay_rate, (int, float)) or not 0 < decay_rate <= 1:
            raise ValueError(f'paramwise_cfg.decay_rate must be in (0, 1], got {decay_rate!r}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        if self.base_lr is None:
            raise ValueError('optim_wrapper.optimizer.lr must be set for layer-wise lr decay')

    def get_layer_id(self, name: str) -> int:
        """Return the layer id of a parameter name (see the class docstring).

        Args:
            name (str): A parameter name of the detector, e.g.
                ``'backbone.layers.3.attn.qkv.weight'``.

        Returns:
            int: In ``[0, num_layers + 1]``.
        """
        num_layers = self.paramwise_cfg['num_layers']
        if name.startswith(_EMBEDDING_NAMES):
            return 0
        match = _LAYER_RE.match(name)
        if match:
            index = int(match.group(1))
            if index >= num_layers:
                raise ValueError(f'parameter {name} is in layer {index}, but '
                                 f'paramwise_cfg.num_layers={num_layers}: set it to the depth '
                                 'of the backbone')
            return index + 1
        return num_layers + 1

    @staticmethod
    def is_no_decay(name: str, param: nn.Parameter) -> bool:
        """Whether a parameter is exempt from weight decay."""
        return param.ndim == 1 or name.endswith('.bias') or name.endswith(_NO_DECAY_SUFFIXES)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', **kwargs) -> None:
        """Add every trainable parameter of ``module`` to ``params``, grouped by layer.

        Args:
            params (List[dict]): The param groups, extended in place.
            module (nn.Module): The detector (unwrapped).
            prefix (str): Unused; names are taken from ``module.named_parameters()``.
            **kwargs: Unused, for the parent's signature.
        """
        num_layers = self.paramwise_cfg['num_layers']
        decay_rate = self.paramwise_cfg['decay_rate']
        groups: Dict[Tuple[int, bool], dict] = {}
        found_layers = False
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = self.get_layer_id(name)
            found_layers |= _LAYER_RE.match(name) is not None
            no_decay = self.is_no_decay(name, param)
            key = (layer_id, no_decay)
            if key not in groups:
                scale = decay_rate**(num_layers + 1 - layer_id)
                groups[key] = dict(
                    params=[],
                    param_names=[],
                    lr=self.base_lr * scale,
                    lr_scale=scale,
                    layer_id=layer_id,
                    weight_decay=0. if no_decay or self.base_wd is None else self.base_wd)
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        if not found_layers:
            raise ValueError('ViTLayerDecayOptimizerConstructor found no "backbone.layers.N" '
                             'parameter: the backbone does not use mmpretrain ViT names, so '
                             'layer-wise lr decay would silently not apply')
        # Heads first: loggers report the lr of the first group, which is then the base lr.
        for key in sorted(groups, reverse=True):
            group = groups[key]
            print_log(
                f'layer-wise lr decay: layer {group["layer_id"]}/{num_layers + 1} '
                f'{"no_decay" if key[1] else "decay"}: {len(group["params"])} params, '
                f'lr={group["lr"]:.3g} (x{group["lr_scale"]:.4g}), '
                f'weight_decay={group["weight_decay"]}',
                logger='current')
            params.append(group)


# The root registry serves every scope (mmseg, mmpretrain, no scope); another package may have
# claimed the name already.
if 'ViTLayerDecayOptimizerConstructor' not in MMENGINE_CONSTRUCTORS.module_dict:
    MMENGINE_CONSTRUCTORS.register_module(
        'ViTLayerDecayOptimizerConstructor', module=ViTLayerDecayOptimizerConstructor)
