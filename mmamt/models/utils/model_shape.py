"""What a checkpoint's weights mean: the model settings a resume must not change.

Weight shapes alone do not say it: ``num_heads`` splits the same ``qkv`` matrix differently, so a
checkpoint resumed with other heads loads without a complaint and trains a different function.
:func:`describe_model` records the settings by their config keys, :func:`model_changes` names
the keys that differ, and :func:`weight_changes` finds any other change of a weight's shape.
"""
from typing import Any, Dict, List, Mapping, Optional

import torch.nn as nn


def _heads(block: Optional[nn.Module]) -> Optional[int]:
    attn = getattr(block, 'attn', None)
    return getattr(attn, 'num_heads', None)


def describe_model(model: nn.Module) -> Dict[str, Any]:
    """The architecture settings of an AMT model, keyed by where a config sets them.

    Args:
        model (nn.Module): ``MAEAMT`` / ``SimMIMAMT`` (any model with a ViT ``backbone``).

    Returns:
        dict: e.g. ``{'model.backbone.arch.embed_dims': 768, 'model.backbone.arch.num_heads': 12,
        'model.neck.decoder_num_heads': 16, ...}``; only JSON-friendly values, and only the
        settings the model has.
    """
    backbone = model.backbone
    layers = getattr(backbone, 'layers', None) or [None]
    stride = backbone.patch_embed.projection.stride
    desc: Dict[str, Any] = {
        'model.type':
        type(model).__name__,
        'model.backbone.type':
        type(backbone).__name__,
        'model.backbone.img_size': [int(v) for v in backbone.input_size],
        'model.backbone.patch_size':
        int(stride[0]),
        'model.backbone.arch.embed_dims':
        getattr(backbone, 'embed_dims', None),
        'model.backbone.arch.num_layers':
        getattr(backbone, 'num_layers', None),
        'model.backbone.arch.num_heads':
        _heads(layers[0]),
        'model.backbone.arch.feedforward_channels':
        getattr(getattr(layers[0], 'ffn', None), 'feedforward_channels', None),
    }
    neck = getattr(model, 'neck', None)
    if neck is not None:
        desc['model.neck.type'] = type(neck).__name__
        blocks = getattr(neck, 'decoder_blocks', None)
        if blocks is not None:
            embed = getattr(neck, 'decoder_embed', None)
            desc.update({
                'model.neck.decoder_embed_dim': getattr(embed, 'out_features', None),
                'model.neck.decoder_depth': len(blocks),
                'model.neck.decoder_num_heads': _heads(blocks[0]) if len(blocks) else None,
            })
    return {k: v for k, v in desc.items() if v is not None}


def model_changes(saved: Mapping[str, Any], current: Mapping[str, Any]) -> List[str]:
    """The settings that differ, as ``'KEY: SAVED in the checkpoint, NOW in the config'``."""
    return [
        f'{key}: {saved.get(key)!r} in the checkpoint, {current.get(key)!r} in the config'
        for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)
    ]


def weight_changes(state_dict: Mapping[str, Any], model: nn.Module, limit: int = 3) -> List[str]:
    """Weights that the checkpoint lacks, has extra, or holds in another shape.

    Args:
        state_dict (Mapping): The checkpoint's ``state_dict``.
        model (nn.Module): The model it would be loaded into.
        limit (int): Names listed per kind. Defaults to 3.

    Returns:
        list[str]: One line per kind of difference; empty when every weight fits.
    """
    current = model.state_dict()
    shape = {k: tuple(v.shape) for k, v in state_dict.items() if hasattr(v, 'shape')}
    missing = [k for k in current if k not in shape]
    extra = [k for k in shape if k not in current]
    resized = [
        f'{k} {shape[k]} in the checkpoint, {tuple(v.shape)} now' for k, v in current.items()
        if k in shape and shape[k] != tuple(v.shape)
    ]
    out = []
    for what, names in (('missing from the checkpoint', missing), ('not in the model', extra),
                        ('of another shape', resized)):
        if names:
            more = f' and {len(names) - limit} more' if len(names) > limit else ''
            out.append(f'{len(names)} weights {what}: {"; ".join(names[:limit])}{more}')
    return out
