"""Convert MAE-AMT / SimMIM-AMT / MAE pre-training checkpoints for downstream use.

The source is an mmengine checkpoint of a plain-ViT MIM model whose encoder is an mmpretrain
``VisionTransformer`` under ``backbone.`` (mmamt ``MAEAMT`` / ``SimMIMAMT``, mmpretrain ``MAE``).
Its architecture comes from the run's config, which mmengine's Runner stores as text in
``meta['cfg']`` (read here without executing it); a checkpoint without one needs the config
given (``cfg=``, ``--config``). The module that receives the weights is built from that
architecture, and :func:`~mmamt.downstream.keymap.match_keys` accounts for every tensor against
its own ``state_dict()`` with the target's key map (:data:`~mmamt.downstream.keymap.KEY_MAPS`):

- ``mmpretrain``: ``VisionTransformer`` names under ``backbone.`` (``{'state_dict', 'meta'}``),
  for an ``ImageClassifier`` whose backbone ``init_cfg`` is ``Pretrained`` with
  ``prefix='backbone.'`` (the MAE linear-probe and fine-tune configs).
- ``mmdet``: mmamt's ``ViTDetBackbone`` (the same names without prefix, no ``cls_token``).
- ``mmseg``: mmseg's ``MAE`` names, for mmamt's ``MAEStrict``.
- ``timm``: a flat state dict for timm's ``VisionTransformer`` built with ``num_classes=0``.

A missing or unused encoder weight, or a wrong shape, raises
:class:`~mmamt.downstream.keymap.KeyCoverageError` and nothing is written. Inputs that cannot be
converted (not a checkpoint, no encoder, no config, an output that is the input or that exists
without ``force``) raise :class:`CheckpointConversionError`. mmdet, mmseg and timm are imported
only when converting for them; a target whose package is missing is refused the same way, with
the command that installs it, before anything is read or written.
"""
import ast
import importlib
import os.path as osp
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn

from mmamt.utils.checkpoint import register_safe_globals
from mmamt.utils.io import atomic_torch_save, torch_load_problem
from .keymap import KEY_MAPS, Coverage, match_keys

TARGETS = tuple(KEY_MAPS)
BACKBONE_PREFIX = 'backbone.'
# timm's ViT family names by (embed_dims, num_layers, num_heads, feedforward_channels).
_TIMM_SIZES = {
    (192, 12, 3, 768): 'tiny',
    (384, 12, 6, 1536): 'small',
    (768, 12, 12, 3072): 'base',
    (1024, 24, 16, 4096): 'large',
    (1280, 32, 16, 5120): 'huge',
}
# The package each target imports and how mmamt installs it (Makefile, requirements/*.txt).
_TARGET_PACKAGES = {
    'mmdet': ('mmdet', '`make install-full` (mmdet==3.3.0 of requirements/downstream.txt, with '
              'mmcv 2.1.0 built with its ops)'),
    'mmseg': ('mmseg', '`make install-full` (mmsegmentation==1.2.2 of '
              'requirements/downstream.txt, with mmcv 2.1.0 built with its ops)'),
    'timm': ('timm', '`make install` (timm of requirements/runtime.txt)'),
}


class CheckpointConversionError(ValueError):
    """The input cannot be converted: not a checkpoint, no encoder or config, a bad OUT, or the
    target's package is not installed."""


@dataclass
class ViTArch:
    """The plain-ViT encoder architecture a conversion needs, read from the built backbone.

    Args:
        embed_dims (int): Token width ``C``.
        num_layers (int): Number of transformer layers.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden width of the FFN.
        patch_size (int): Patch size of the patch embedding.
        img_size (Tuple[int, int]): Pre-training image size (``img_size / patch_size`` is the
            grid of ``pos_embed``).
        in_channels (int): Image channels. Defaults to 3.
        qkv_bias (bool): Whether the qkv projections have a bias. Defaults to True.
        layer_scale (bool): Whether the layers have layer scale. Defaults to False.
    """

    embed_dims: int
    num_layers: int
    num_heads: int
    feedforward_channels: int
    patch_size: int
    img_size: Tuple[int, int]
    in_channels: int = 3
    qkv_bias: bool = True
    layer_scale: bool = False

    @classmethod
    def from_backbone(cls, vit: nn.Module) -> 'ViTArch':
        """Read the architecture of an mmpretrain ``VisionTransformer`` (or subclass)."""
        state = vit.state_dict()
        proj = state['patch_embed.projection.weight']  # (C, in_channels, p, p)
        grid = vit.patch_resolution
        return cls(
            embed_dims=vit.embed_dims,
            num_layers=vit.num_layers,
            num_heads=vit.arch_settings['num_heads'],
            feedforward_channels=vit.arch_settings['feedforward_channels'],
            patch_size=proj.shape[-1],
            img_size=(grid[0] * proj.shape[-2], grid[1] * proj.shape[-1]),
            in_channels=proj.shape[1],
            qkv_bias='layers.0.attn.qkv.bias' in state,
            layer_scale='layers.0.attn.gamma1.weight' in state)

    def to_mmpretrain(self) -> dict:
        """Return the ``arch`` dict of an mmpretrain ``VisionTransformer``."""
        return dict(
            embed_dims=self.embed_dims,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            feedforward_channels=self.feedforward_channels)

    def describe(self) -> str:
        """Return a one-line summary, e.g. ``'ViT 768d x12, 12 heads, ffn 3072, p16 @224x224'``."""
        extras = ''.join(
            [', layer scale' if self.layer_scale else '', '' if self.qkv_bias else ', no qkv bias'])
        return (f'ViT {self.embed_dims}d x{self.num_layers}, {self.num_heads} heads, ffn '
                f'{self.feedforward_channels}, p{self.patch_size} @{self.img_size[0]}x'
                f'{self.img_size[1]}{extras}')

    def to_dict(self) -> dict:
        """Return the architecture as plain python values (stored in the output ``meta``)."""
        return dict(asdict(self), img_size=list(self.img_size))


# --------------------------------------------------------------------------------------------
# Reading the source and its config
# --------------------------------------------------------------------------------------------
def load_source(path: str, unsafe_load: bool = False) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Read a checkpoint and return its state dict and meta.

    Args:
        path (str): An mmengine checkpoint (``{'state_dict', 'meta', ...}``) or a bare state dict.
        unsafe_load (bool): Load with the full unpickler (``weights_only=False``). Only for
            trusted files whose ``meta`` holds types outside mmamt's allow-list.
            Defaults to False.

    Returns:
        Tuple[Dict[str, torch.Tensor], dict]: The state dict and the meta (``{}`` if none).

    Raises:
        CheckpointConversionError: If the file is missing or is not a torch checkpoint.
    """
    if not osp.isfile(path):
        raise CheckpointConversionError(f'input checkpoint {path!r} does not exist')
    register_safe_globals()  # numpy / mmengine data types of Runner checkpoints
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=not unsafe_load)
    except Exception as err:  # torch raises several types for bytes that are no checkpoint
        problem, description = torch_load_problem(err)
        if problem == 'refused':
            raise CheckpointConversionError(
                f'{path!r} {description}; if you trust the file, pass --unsafe-load '
                '(unsafe_load=True)') from err
        raise CheckpointConversionError(
            f'{path!r} is not a readable torch checkpoint: it {description}') from err
    if not isinstance(ckpt, dict):
        raise CheckpointConversionError(
            f'{path!r} is not a checkpoint: it holds a {type(ckpt).__name__}, expected a dict '
            "with 'state_dict' (an mmengine checkpoint) or a state dict")
    state_dict = ckpt.get('state_dict', ckpt)
    meta = ckpt.get('meta', {}) if 'state_dict' in ckpt else {}
    if not isinstance(state_dict, dict) or not any(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointConversionError(
            f'{path!r} holds no tensors under "state_dict" (top-level keys: '
            f'{sorted(map(str, ckpt))[:8]})')
    return state_dict, meta if isinstance(meta, dict) else {}


def split_backbone(
    state_dict: Mapping[str,
                        torch.Tensor]) -> Tuple['OrderedDict[str, torch.Tensor]', Dict[str, str]]:
    """Split a model state dict into encoder tensors and the rest (dropped by design).

    Args:
        state_dict (Mapping[str, torch.Tensor]): A whole-model state dict.

    Returns:
        Tuple[OrderedDict[str, torch.Tensor], Dict[str, str]]: The encoder tensors without the
        ``backbone.`` prefix, and ``{key: reason}`` for every other key.

    Raises:
        CheckpointConversionError: If there is no ``backbone.*`` key.
    """
    backbone, rest = OrderedDict(), OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(BACKBONE_PREFIX):
            backbone[key[len(BACKBONE_PREFIX):]] = value
        else:
            top = key.split('.', 1)[0]
            rest[key] = {
                'neck': 'pre-training decoder',
                'head': 'pre-training head',
                'target_generator': "the teacher (EVA's CLIP, MaskFeat's HOG), not the encoder",
            }.get(top, f'not the encoder ({top}.*)')
    if not backbone:
        raise CheckpointConversionError(
            'the checkpoint holds no backbone: no "backbone.*" key among '
            f'{len(state_dict)} tensors (e.g. {list(state_dict)[:5]}); expected an mmengine '
            'checkpoint of an mmpretrain ViT MIM algorithm (MAE, MFF, EVA, MaskFeat) or its AMT '
            'version')
    return backbone, rest


def _literal(node: ast.AST) -> object:
    """Evaluate literals and ``dict(...)`` calls of a config text; entries that are other
    expressions are left out. Raises ValueError for such an expression itself."""
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(n) for n in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'dict' and not node.args:
        pairs = [(ast.Constant(kw.arg), kw.value) for kw in node.keywords if kw.arg]
    elif isinstance(node, ast.Dict):
        pairs = [(k, v) for k, v in zip(node.keys, node.values) if k is not None]
    else:
        return ast.literal_eval(node)
    out = {}
    for key, value in pairs:
        try:
            out[_literal(key)] = _literal(value)
        except (ValueError, TypeError):
            pass
    return out


def read_backbone_cfg(meta: Mapping, cfg: Optional[Union[str, Mapping]] = None) -> dict:
    """Return the pre-training ``model.backbone`` config.

    Args:
        meta (Mapping): Checkpoint meta: ``cfg`` (the config text an mmengine Runner stores,
            read without executing it) or ``mmamt_convert.backbone`` (an earlier conversion).
        cfg (str | Mapping, optional): The pre-training config (a file or a dict with
            ``model.backbone``), for checkpoints without one; wins over ``meta``.
            Defaults to None.

    Returns:
        dict: The backbone config.

    Raises:
        CheckpointConversionError: If there is none.
    """
    model = None
    if cfg is not None:
        if isinstance(cfg, str):
            from mmengine.config import Config
            try:
                cfg = Config.fromfile(cfg).to_dict()
            except Exception as err:  # a missing file, a syntax error, a failing _base_
                raise CheckpointConversionError(
                    f'--config {cfg}: {type(err).__name__}: {err}') from err
        model = cfg.get('model')
    elif isinstance(meta.get('cfg'), str):
        try:
            tree = ast.parse(meta['cfg'])
        except SyntaxError:
            tree = ast.Module(body=[], type_ignores=[])
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, 'id', None)
                                                 for t in node.targets] == ['model']:
                try:
                    model = _literal(node.value)
                except (ValueError, TypeError):
                    pass
    elif isinstance(meta.get('mmamt_convert'), Mapping):
        model = dict(backbone=meta['mmamt_convert'].get('backbone'))
    backbone = model.get('backbone') if isinstance(model, Mapping) else None
    if not isinstance(backbone, Mapping) or 'type' not in backbone:
        raise CheckpointConversionError(
            "no model.backbone config: the checkpoint has no readable meta['cfg'] (mmengine's "
            'Runner stores one in every checkpoint) and none was given; pass --config with the '
            'pre-training config')
    return _plain(backbone)


def _plain(value: object) -> object:
    """Deep-copy config values into plain dicts and lists (``ConfigDict`` does not pass
    ``torch.load(weights_only=True)`` once stored in a converted checkpoint's meta)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def infer_arch(backbone_cfg: Mapping) -> ViTArch:
    """Build the pre-training backbone from its config and read its architecture.

    Args:
        backbone_cfg (Mapping): ``model.backbone`` of the pre-training config (mmpretrain scope;
            mmamt's backbones are registered there).

    Returns:
        ViTArch: The architecture.

    Raises:
        CheckpointConversionError: If the config does not build a plain mmpretrain ViT.
    """
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import mmamt.models  # noqa: F401  (registers mmamt's backbones into mmpretrain)
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return ViTArch.from_backbone(_build_for_shapes(MODELS.build, dict(backbone_cfg)))
    except Exception as err:  # the registry, the constructor or a non-ViT backbone
        raise CheckpointConversionError(
            f'model.backbone ({backbone_cfg.get("type")}) of the config does not build a plain '
            f'mmpretrain VisionTransformer: {type(err).__name__}: {err}') from err


# --------------------------------------------------------------------------------------------
# The targets
# --------------------------------------------------------------------------------------------
def timm_model_name(arch: ViTArch) -> Optional[str]:
    """Return the registered timm ViT whose shapes match the architecture, if there is one.

    Args:
        arch (ViTArch): The architecture.

    Returns:
        str, optional: e.g. ``'vit_base_patch16_224'``, or None for custom sizes.
    """
    size = _TIMM_SIZES.get(
        (arch.embed_dims, arch.num_layers, arch.num_heads, arch.feedforward_channels))
    if size is None or arch.img_size[0] != arch.img_size[1] or arch.in_channels != 3:
        return None
    import timm
    name = f'vit_{size}_patch{arch.patch_size}_{arch.img_size[0]}'
    return name if timm.is_model(name) else None


def timm_model_kwargs(arch: ViTArch) -> dict:
    """Return the keyword arguments of timm's ``VisionTransformer`` that fit the export.

    Args:
        arch (ViTArch): The architecture.

    Returns:
        dict: Arguments for ``timm.create_model(name, **kwargs)`` or ``VisionTransformer``.
    """
    kwargs = dict(
        num_classes=0,
        img_size=arch.img_size,
        patch_size=arch.patch_size,
        in_chans=arch.in_channels,
        embed_dim=arch.embed_dims,
        depth=arch.num_layers,
        num_heads=arch.num_heads,
        qkv_bias=arch.qkv_bias,
        global_pool='token',
        mlp_ratio=arch.feedforward_channels / arch.embed_dims)
    if arch.layer_scale:
        kwargs['init_values'] = 1.0  # only makes timm build ls1/ls2; the values come from us
    return kwargs


def build_timm_model(arch: ViTArch, model_name: Optional[str] = None) -> nn.Module:
    """Build the (randomly initialised) timm ViT that the ``timm`` export loads into.

    Args:
        arch (ViTArch): The architecture.
        model_name (str, optional): A timm model name; default: :func:`timm_model_name`, or a
            ``VisionTransformer`` with the architecture's sizes when no registered name fits.

    Returns:
        nn.Module: The timm model, headless (``num_classes=0``).
    """
    import timm
    kwargs = timm_model_kwargs(arch)
    model_name = model_name or timm_model_name(arch)
    if model_name is None:
        return timm.models.vision_transformer.VisionTransformer(**kwargs)
    # A named model keeps its own sizes; only what the export needs is passed.
    keep = ('num_classes', 'img_size', 'qkv_bias', 'global_pool', 'init_values')
    return timm.create_model(
        model_name, pretrained=False, **{
            k: v
            for k, v in kwargs.items() if k in keep
        })


def _build_for_shapes(build: Callable[..., nn.Module], *args) -> nn.Module:
    """Build a module whose tensor names and shapes are all that is read: on the meta device
    (nothing allocated, ViT-H included) where its constructor allows."""
    try:
        with torch.device('meta'):
            return build(*args)
    except RuntimeError:  # a constructor reading tensor values (mmseg's MAE: linspace().item())
        return build(*args)


def check_target_installed(target: str) -> None:
    """Refuse a target whose package (mmdet, mmseg, timm) cannot be imported.

    Args:
        target (str): One of :data:`TARGETS`.

    Raises:
        CheckpointConversionError: If the package is missing or fails to import; the message
            names it and the command that installs it.
    """
    if target not in _TARGET_PACKAGES:
        return
    package, install = _TARGET_PACKAGES[target]
    try:
        importlib.import_module(package)
    except ImportError as err:
        # err.name is another module when the package is there but one of its imports is not
        state = ('is not installed' if err.name in (None, package) else f'fails to import ({err})')
        raise CheckpointConversionError(
            f'--to {target} needs {package}, which {state}; install it with {install}') from err


def target_module(arch: ViTArch, target: str) -> nn.Module:
    """Build the (randomly initialised) module a target loads the converted weights into.

    Args:
        arch (ViTArch): The architecture.
        target (str): One of :data:`TARGETS`.

    Returns:
        nn.Module: mmpretrain ``VisionTransformer``, mmamt ``ViTDetBackbone``, mmseg ``MAE`` or
        timm ``VisionTransformer``.
    """
    check_target_installed(target)
    common = dict(img_size=arch.img_size, patch_size=arch.patch_size, in_channels=arch.in_channels)
    layer_scale = 0.1 if arch.layer_scale else 0.  # any value > 0 builds the parameters
    if target == 'mmpretrain':
        from mmpretrain.models import VisionTransformer
        return VisionTransformer(
            arch=arch.to_mmpretrain(),
            qkv_bias=arch.qkv_bias,
            layer_scale_init_value=layer_scale,
            **common)
    if target == 'mmdet':
        from .det.vitdet import ViTDetBackbone
        return ViTDetBackbone(
            arch=dict(arch.to_mmpretrain(), global_attn_indexes=()),
            pretrain_img_size=arch.img_size,
            window_size=0,
            qkv_bias=arch.qkv_bias,
            layer_scale_init_value=layer_scale,
            **common)
    if target == 'mmseg':
        from mmseg.models.backbones import MAE
        if arch.feedforward_channels % arch.embed_dims:
            raise CheckpointConversionError(
                f"mmseg's MAE needs feedforward_channels ({arch.feedforward_channels}) to be a "
                f'multiple of embed_dims ({arch.embed_dims})')
        return MAE(
            embed_dims=arch.embed_dims,
            num_layers=arch.num_layers,
            num_heads=arch.num_heads,
            mlp_ratio=arch.feedforward_channels // arch.embed_dims,
            final_norm=True,
            init_values=1.0,
            **common)
    import timm
    return timm.models.vision_transformer.VisionTransformer(**timm_model_kwargs(arch))


def convert_state_dict(
        backbone: Mapping[str, torch.Tensor],
        arch: ViTArch,
        target: str,
        source: str = '<state dict>') -> Tuple['OrderedDict[str, torch.Tensor]', Coverage]:
    """Rename an mmpretrain ViT encoder state dict into a target's scheme.

    Args:
        backbone (Mapping[str, torch.Tensor]): Encoder tensors without ``backbone.``.
        arch (ViTArch): The architecture.
        target (str): One of :data:`TARGETS`.
        source (str): Where the tensors come from, for messages. Defaults to
            ``'<state dict>'``.

    Returns:
        Tuple[OrderedDict[str, torch.Tensor], Coverage]: The converted tensors (target names,
        no prefix, in the target's order) and the account; :meth:`Coverage.check` refuses an
        incomplete one.
    """
    if target not in TARGETS:
        raise CheckpointConversionError(f'--to must be one of {TARGETS}, got {target!r}')
    expected = _build_for_shapes(target_module, arch, target).state_dict()
    # Source names are VisionTransformer's: a tensor already named like the target's is stray.
    names = expected if target == 'mmpretrain' else _build_for_shapes(target_module, arch,
                                                                      'mmpretrain').state_dict()
    tensors, coverage = match_keys(
        backbone,
        expected,
        KEY_MAPS[target],
        f'{target} ({arch.describe()})',
        source,
        source_names=names)
    # No qkv bias is exactly a zero one, and mmseg's MAE always has one.
    dtype = next(iter(backbone.values())).dtype
    for name in [k for k in coverage.missing if k.endswith('attn.qkv.bias')]:
        if not arch.qkv_bias:
            coverage.missing.remove(name)
            tensors[name] = torch.zeros(expected[name].shape, dtype=dtype)
            coverage.synthesised[name] = 'the source has no qkv bias; zero is equivalent'
    return OrderedDict((k, tensors[k]) for k in expected if k in tensors), coverage


@dataclass
class ConversionResult:
    """What :func:`convert_checkpoint` produced.

    Attributes:
        coverage (Coverage): Where every tensor went.
        arch (ViTArch): The encoder architecture.
        output (dict): The object written: ``{'state_dict', 'meta'}``, or the flat state dict for
            ``timm``.
        info (dict): The conversion record (target, source, arch, backbone config, coverage
            counts and, for ``timm``, the model name and ``create_model`` arguments).
    """

    coverage: Coverage
    arch: ViTArch
    output: dict
    info: dict


def check_output_path(src: str, dst: str, force: bool = False) -> None:
    """Refuse an output that is the input (by any path or link), or that exists unless forced.

    Raises:
        CheckpointConversionError: If ``dst`` is ``src``, or exists and ``force`` is False.
    """
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise CheckpointConversionError(
            f'OUT {dst} is the input {src} (the same file): converting would replace the '
            'pre-training checkpoint (decoder, optimizer, attention bank) with an encoder-only '
            'file; choose another OUT')
    if osp.lexists(dst) and not force:
        raise CheckpointConversionError(
            f'OUT {dst} exists; pass --force (force=True) to overwrite it')


def convert_checkpoint(src: str,
                       dst: Optional[str],
                       target: str,
                       cfg: Optional[Union[str, Mapping]] = None,
                       timm_model: Optional[str] = None,
                       unsafe_load: bool = False,
                       force: bool = False) -> ConversionResult:
    """Convert a pre-training checkpoint for one downstream target and write it atomically.

    Args:
        src (str): The MAE-AMT, SimMIM-AMT or mmpretrain MAE checkpoint.
        dst (str, optional): Output path; None converts and checks without writing.
        target (str): One of :data:`TARGETS`.
        cfg (str | Mapping, optional): The pre-training config, for checkpoints that carry
            none (see :func:`read_backbone_cfg`). Defaults to None.
        timm_model (str, optional): The timm model name recorded for the ``timm`` target;
            default: :func:`timm_model_name`. Defaults to None.
        unsafe_load (bool): See :func:`load_source`. Defaults to False.
        force (bool): Overwrite an existing ``dst`` (never ``src`` itself). Defaults to False.

    Returns:
        ConversionResult: The account, the architecture, what was (or would be) written and the
        conversion record stored in its ``meta``.

    Raises:
        CheckpointConversionError: For inputs or outputs that cannot be used, or a target whose
            package is not installed.
        KeyCoverageError: If any encoder weight is missing, unused or of a wrong shape.
    """
    if target not in TARGETS:
        raise CheckpointConversionError(f'--to must be one of {TARGETS}, got {target!r}')
    check_target_installed(target)  # before reading a checkpoint that may be large
    if dst is not None:
        check_output_path(src, dst, force)
    state_dict, meta = load_source(src, unsafe_load=unsafe_load)
    backbone, rest = split_backbone(state_dict)
    backbone_cfg = read_backbone_cfg(meta, cfg)
    arch = infer_arch(backbone_cfg)
    converted, coverage = convert_state_dict(backbone, arch, target, source=src)
    coverage.dropped.update(rest)
    coverage.check()
    info = dict(
        target=target,
        source=osp.abspath(src),
        arch=arch.to_dict(),
        backbone=backbone_cfg,
        coverage=coverage.summary())
    if target == 'timm':
        info['timm_model'] = timm_model or timm_model_name(arch)
        info['timm_kwargs'] = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in timm_model_kwargs(arch).items()
        }
        obj = dict(converted)  # timm loads a bare state dict (strict=True needs no extras)
    else:
        if target == 'mmpretrain':
            converted = OrderedDict((BACKBONE_PREFIX + k, v) for k, v in converted.items())
        from mmamt import __version__
        obj = dict(state_dict=converted, meta=dict(mmamt_version=__version__, mmamt_convert=info))
    if dst is not None:
        atomic_torch_save(obj, dst)
    return ConversionResult(coverage=coverage, arch=arch, output=obj, info=info)
