"""Convert MAE-AMT / SimMIM-AMT / MAE pre-training checkpoints for downstream use.

One converter serves four targets. The source is an mmengine checkpoint of a plain-ViT MIM model
whose encoder is an mmpretrain ``VisionTransformer`` (mmamt ``MAEAMT`` / ``SimMIMAMT``, mmpretrain
``MAE``), i.e. its encoder weights sit under ``backbone.``::

    cls_token, pos_embed (1, 1 + Np, C), patch_embed.projection.{weight,bias},
    layers.N.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}.{weight,bias},
    layers.N.attn.gamma1.weight, layers.N.ffn.gamma2.weight   (with layer scale only),
    ln1.{weight,bias}                                          (final norm),
    mask_token                                                 (SimMIM only)

Targets and what they receive:

- ``mmpretrain``: the same names under ``backbone.`` (``{'state_dict', 'meta'}``), for an
  ``ImageClassifier`` whose backbone ``init_cfg`` is ``Pretrained`` with ``prefix='backbone.'``
  (the MAE linear-probe and fine-tune configs).
- ``mmdet``: the same names without prefix, ``cls_token`` dropped (ViTDet has no class token),
  for mmamt's ``ViTDetBackbone``; its relative-position tables ``layers.N.attn.rel_pos_{h,w}`` are
  new parameters.
- ``mmseg``: the names of mmseg's ``MAE`` backbone without prefix (layer scale becomes
  ``layers.N.gamma_{1,2}``); ``gamma_{1,2}`` (when the source has no layer scale) and
  ``layers.N.attn.relative_position_bias_table`` are new parameters. Load it with mmamt's
  ``MAEStrict``, which refuses anything else missing or left over.
- ``timm``: a flat state dict for ``timm`` ``VisionTransformer`` (``vit_base_patch16_224`` names),
  to be built with ``num_classes=0`` (and ``init_values`` when the source has layer scale).

Every tensor is accounted for in a :class:`CoverageReport`; a missing or unused encoder weight, or
a shape that does not fit the architecture, raises :class:`KeyCoverageError` and nothing is
written. Inputs that are not checkpoints, hold no encoder or whose architecture cannot be
determined raise :class:`CheckpointConversionError`.
"""
import ast
import math
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch

from mmamt.utils.checkpoint import register_safe_globals
from mmamt.utils.io import atomic_torch_save

TARGETS = ('mmpretrain', 'mmdet', 'mmseg', 'timm')
BACKBONE_PREFIX = 'backbone.'
# A progress bar only for encoders this large (ViT-B is about 340 MB); below it is just noise.
PROGRESS_MIN_BYTES = 64 * 1024**2

# Optional encoder tensors: present in one layer means expected in all.
_QKV_BIAS_KEY = 'attn.qkv.bias'
_LAYER_SCALE_KEYS = ('attn.gamma1.weight', 'ffn.gamma2.weight')
# Encoder tensors that only pre-training uses.
_PRETRAIN_ONLY = {'mask_token': 'pre-training mask token'}
_LAYER_RE = re.compile(r'^layers\.(\d+)\.(.+)$')

# Renames of the source names (module docstring) per target; no entry keeps the name.
_RENAMES: Dict[str, Dict[str, Dict[str, str]]] = {
    'mmpretrain': {'global': {}, 'layer': {}},
    'mmdet': {'global': {}, 'layer': {}},
    'mmseg': {
        'global': {},
        'layer': {'attn.gamma1.weight': 'gamma_1', 'ffn.gamma2.weight': 'gamma_2'},
    },
    'timm': {
        'global': {
            'patch_embed.projection.weight': 'patch_embed.proj.weight',
            'patch_embed.projection.bias': 'patch_embed.proj.bias',
            'ln1.weight': 'norm.weight',
            'ln1.bias': 'norm.bias',
        },
        'layer': {
            'ln1.weight': 'norm1.weight',
            'ln1.bias': 'norm1.bias',
            'attn.gamma1.weight': 'ls1.gamma',
            'ln2.weight': 'norm2.weight',
            'ln2.bias': 'norm2.bias',
            'ffn.layers.0.0.weight': 'mlp.fc1.weight',
            'ffn.layers.0.0.bias': 'mlp.fc1.bias',
            'ffn.layers.1.weight': 'mlp.fc2.weight',
            'ffn.layers.1.bias': 'mlp.fc2.bias',
            'ffn.gamma2.weight': 'ls2.gamma',
        },
    },
}
_LAYER_NAME = {'timm': 'blocks'}
# Encoder tensors a target does not take, with the reason.
_TARGET_DROPS = {'mmdet': {'cls_token': 'ViTDet uses no class token'}}

# timm's ViT family names by (embed_dims, num_layers, num_heads, feedforward_channels).
_TIMM_SIZES = {
    (192, 12, 3, 768): 'tiny',
    (384, 12, 6, 1536): 'small',
    (768, 12, 12, 3072): 'base',
    (1024, 24, 16, 4096): 'large',
    (1280, 32, 16, 5120): 'huge',
}


class CheckpointConversionError(ValueError):
    """The input cannot be converted: not a checkpoint, no encoder, or unknown architecture."""


class KeyCoverageError(RuntimeError):
    """Some encoder weight is missing, left unused, or has a shape the architecture rejects.

    Args:
        report (CoverageReport): The full report; :meth:`CoverageReport.format` explains it.
    """

    def __init__(self, report: 'CoverageReport') -> None:
        self.report = report
        super().__init__(f'incomplete conversion to {report.target}: '
                         f'{len(report.missing)} missing, {len(report.unused)} unused, '
                         f'{len(report.mismatched)} with a wrong shape\n{report.format()}')


@dataclass
class ViTArch:
    """The plain-ViT encoder architecture a conversion needs.

    Args:
        embed_dims (int): Token width ``C``.
        num_layers (int): Number of transformer layers.
        num_heads (int): Attention heads (not recoverable from the weights).
        feedforward_channels (int): Hidden width of the FFN.
        patch_size (int): Patch size of the patch embedding.
        img_size (Tuple[int, int]): Pre-training image size; ``img_size / patch_size`` is the grid
            of ``pos_embed``.
        in_channels (int): Image channels. Defaults to 3.
        qkv_bias (bool): Whether the source has ``attn.qkv.bias``. Defaults to True.
        layer_scale (bool): Whether the source has layer scale (``gamma1`` / ``gamma2``).
            Defaults to False.
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

    @property
    def grid(self) -> Tuple[int, int]:
        """The patch grid ``(H / p, W / p)`` of the pre-training resolution."""
        return (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)

    def to_mmpretrain(self) -> dict:
        """Return the ``arch`` dict of an mmpretrain ``VisionTransformer``."""
        return dict(embed_dims=self.embed_dims, num_layers=self.num_layers,
                    num_heads=self.num_heads, feedforward_channels=self.feedforward_channels)

    def describe(self) -> str:
        """Return a one-line summary, e.g. ``'ViT 768d x12, 12 heads, ffn 3072, p16 @224x224'``."""
        extras = ''.join([', layer scale' if self.layer_scale else '',
                          '' if self.qkv_bias else ', no qkv bias'])
        return (f'ViT {self.embed_dims}d x{self.num_layers}, {self.num_heads} heads, ffn '
                f'{self.feedforward_channels}, p{self.patch_size} @{self.img_size[0]}x'
                f'{self.img_size[1]}{extras}')

    def to_dict(self) -> dict:
        """Return the architecture as plain python values (stored in the output ``meta``)."""
        out = asdict(self)
        out['img_size'] = list(self.img_size)
        return out


@dataclass
class CoverageReport:
    """Where every source tensor went in one conversion.

    Attributes:
        target (str): The target key scheme.
        arch (str): A short description of the architecture the shapes were checked against.
        source_keys (List[str]): Encoder tensors of the source (without ``backbone.``).
        used (List[str]): Source tensors copied (renamed) into the output.
        filled (List[str]): Output tensors (target names, without any prefix).
        synthesised (Dict[str, str]): Output tensors the source has no counterpart for but whose
            value is implied (e.g. zero ``qkv`` bias), with the reason.
        new (Dict[str, str]): Documented new target parameters that stay at their initial value
            (e.g. relative-position tables), with the reason.
        dropped (Dict[str, str]): Source tensors left out by design, with the reason.
        missing (List[str]): Encoder tensors the architecture needs but the source lacks.
        unused (List[str]): Source encoder tensors no rule consumes (renamed, stray, ...).
        mismatched (List[str]): ``'name: got shape, expected shape'`` lines.
    """

    target: str
    arch: str = ''
    source_keys: List[str] = field(default_factory=list)
    used: List[str] = field(default_factory=list)
    filled: List[str] = field(default_factory=list)
    synthesised: Dict[str, str] = field(default_factory=dict)
    new: Dict[str, str] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    missing: List[str] = field(default_factory=list)
    unused: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unused or of a wrong shape."""
        return not (self.missing or self.unused or self.mismatched)

    def summary(self) -> Dict[str, int]:
        """Return the counts of every category (stored in the output ``meta``)."""
        return dict(source=len(self.source_keys), used=len(self.used), filled=len(self.filled),
                    synthesised=len(self.synthesised), new=len(self.new),
                    dropped=len(self.dropped), missing=len(self.missing),
                    unused=len(self.unused), mismatched=len(self.mismatched))

    def format(self, max_listed: int = 20) -> str:
        """Return a human-readable report: counts, then the reasons and the offending names.

        Args:
            max_listed (int): List at most this many names per failure category.
                Defaults to 20.

        Returns:
            str: The report, one item per line.
        """
        n = self.summary()
        lines = [
            f'Key coverage for target "{self.target}" ({self.arch}):',
            f'  source encoder tensors : {n["source"]}',
            f'  used                   : {n["used"]}',
            f'  target tensors filled  : {n["filled"]} (of which synthesised: '
            f'{n["synthesised"]})',
            f'  new (documented)       : {n["new"]}',
            f'  dropped by design      : {n["dropped"]}',
            f'  missing                : {n["missing"]}',
            f'  unused                 : {n["unused"]}',
            f'  wrong shape            : {n["mismatched"]}',
        ]
        for title, entries in (('synthesised', self.synthesised), ('new', self.new),
                               ('dropped', self.dropped)):
            for reason, names in _group_by_reason(entries).items():
                lines.append(f'  {title}: {_abbreviate(names)} ({reason})')
        for title, names in (('MISSING', self.missing), ('UNUSED', self.unused),
                             ('WRONG SHAPE', self.mismatched)):
            for name in names[:max_listed]:
                lines.append(f'  {title}: {name}')
            if len(names) > max_listed:
                lines.append(f'  {title}: ... and {len(names) - max_listed} more')
        if len(self.mismatched) > len(self.used):
            lines.append(f'  most shapes do not fit {self.arch}: check --arch / --num-heads '
                         '/ --img-size / --patch-size')
        lines.append('  -> complete' if self.ok else '  -> INCOMPLETE')
        return '\n'.join(lines)


def _group_by_reason(entries: Dict[str, str]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = OrderedDict()
    for name, reason in entries.items():
        groups.setdefault(reason, []).append(name)
    return groups


def _abbreviate(names: Sequence[str], limit: int = 4) -> str:
    """Write per-layer names once with ``N`` for the layer index (``layers.N.gamma_1 x12``)."""
    patterns: Dict[str, int] = OrderedDict()
    for name in names:
        key = re.sub(r'^(layers|blocks)\.\d+\.', r'\1.N.', name)
        patterns[key] = patterns.get(key, 0) + 1
    parts = [p if c == 1 else f'{p} x{c}' for p, c in patterns.items()]
    if len(parts) > limit:
        parts = parts[:limit] + [f'... ({len(parts) - limit} more)']
    return ', '.join(parts)


# --------------------------------------------------------------------------------------------
# Reading the source
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
        raise CheckpointConversionError(_load_error_message(path, err, unsafe_load)) from err
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


def _load_error_message(path: str, err: Exception, unsafe_load: bool) -> str:
    """Say why ``torch.load`` failed: not a checkpoint, or a type outside the allow-list."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    refused = [ln for ln in lines if 'global' in ln.lower() and 'unsupported' in ln.lower()]
    if refused and not unsafe_load:
        return (f'{path!r} references objects that the safe loader refuses ({refused[0]}); if '
                'you trust the file, pass --unsafe-load (unsafe_load=True)')
    detail = next((ln for ln in lines if 'WeightsUnpickler' not in ln and 'Weights only' not in
                   ln and 'weights_only' not in ln), lines[0] if lines else '')
    return (f'{path!r} is not a readable torch checkpoint: {type(err).__name__}: '
            f'{detail[:200]}')


def split_backbone(state_dict: Dict[str, torch.Tensor]
                   ) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Split a model state dict into encoder tensors and the rest (dropped by design).

    Args:
        state_dict (Dict[str, torch.Tensor]): A whole-model state dict.

    Returns:
        Tuple[Dict[str, torch.Tensor], Dict[str, str]]: The encoder tensors without the
        ``backbone.`` prefix, and ``{key: reason}`` for every other key.

    Raises:
        CheckpointConversionError: If there is no ``backbone.*`` key.
    """
    backbone = OrderedDict()
    rest = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(BACKBONE_PREFIX):
            backbone[key[len(BACKBONE_PREFIX):]] = value
        else:
            top = key.split('.', 1)[0]
            rest[key] = ('MAE decoder' if top == 'neck' else
                         'pre-training head' if top == 'head' else f'not the encoder ({top}.*)')
    if not backbone:
        raise CheckpointConversionError(
            'the checkpoint holds no backbone: no "backbone.*" key among '
            f'{len(state_dict)} tensors (e.g. {list(state_dict)[:5]}); expected an mmengine '
            'checkpoint of MAE, MAE-AMT or SimMIM-AMT')
    return backbone, rest


class _SafeConfigReader:
    """Evaluate the literal parts of a dumped config without executing it.

    A checkpoint's ``meta['cfg']`` is python text; running it (``Config.fromstring``) would run
    whatever a foreign checkpoint put there, so only literals and ``dict(...)`` calls are read.
    """

    _UNKNOWN = object()

    def value(self, node: ast.AST) -> object:
        """Return the literal value of an expression, or ``_UNKNOWN``."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(n) for n in node.elts]
            return self._UNKNOWN if self._UNKNOWN in items else (
                items if isinstance(node, ast.List) else tuple(items))
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                key = self.value(k) if k is not None else self._UNKNOWN
                if key is not self._UNKNOWN:
                    out[key] = self.value(v)
            return out
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == 'dict' and not node.args):
            return {kw.arg: self.value(kw.value) for kw in node.keywords if kw.arg}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.value(node.operand)
            return -inner if isinstance(inner, (int, float)) else self._UNKNOWN
        return self._UNKNOWN

    def read(self, text: str) -> Dict[str, object]:
        """Return ``{name: value}`` of the top-level assignments of a config text."""
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return {}
        out = {}
        for node in tree.body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                out[node.targets[0].id] = self.value(node.value)
        return out


def backbone_cfg_from_meta(meta: dict) -> Optional[dict]:
    """Return ``model.backbone`` of the config mmengine stored in ``meta['cfg']``, if any.

    Args:
        meta (dict): Checkpoint meta.

    Returns:
        dict, optional: The backbone config (unreadable values left out), or None.
    """
    cfg = meta.get('cfg')
    if isinstance(cfg, str):
        cfg = _SafeConfigReader().read(cfg)
    if not isinstance(cfg, dict):
        return None
    model = cfg.get('model')
    backbone = model.get('backbone') if isinstance(model, dict) else None
    if not isinstance(backbone, dict):
        return None
    return {k: v for k, v in backbone.items() if v is not _SafeConfigReader._UNKNOWN}


def _mmpretrain_arch_zoo() -> Dict[str, dict]:
    from mmpretrain.models.backbones.vision_transformer import VisionTransformer
    return VisionTransformer.arch_zoo


def _pair(value: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    return value if len(value) == 2 else (value[0], value[0])


def infer_arch(backbone: Dict[str, torch.Tensor],
               meta: Optional[dict] = None,
               arch: Optional[Union[str, dict]] = None,
               num_heads: Optional[int] = None,
               img_size: Optional[Union[int, Sequence[int]]] = None,
               patch_size: Optional[int] = None) -> ViTArch:
    """Work out the encoder architecture.

    Explicit arguments win over the config stored in ``meta['cfg']``, which wins over what the
    weight shapes say. Only ``num_heads`` cannot come from the weights.

    Args:
        backbone (Dict[str, torch.Tensor]): Encoder tensors without ``backbone.``.
        meta (dict, optional): Checkpoint meta. Defaults to None.
        arch (str | dict, optional): An mmpretrain ``VisionTransformer`` arch name (``'b'``,
            ``'base'``, ``'large'``, ...) or dict. Defaults to None.
        num_heads (int, optional): Attention heads. Defaults to None.
        img_size (int | Sequence[int], optional): Pre-training image size. Defaults to None.
        patch_size (int, optional): Patch size. Defaults to None.

    Returns:
        ViTArch: The architecture.

    Raises:
        CheckpointConversionError: If a value cannot be determined or an arch name is unknown.
    """
    found: Dict[str, object] = {}
    # 1. the weights
    proj = backbone.get('patch_embed.projection.weight')
    if proj is not None and proj.dim() == 4:
        found.update(embed_dims=proj.shape[0], in_channels=proj.shape[1],
                     patch_size=proj.shape[2])
    layer_ids = {int(m.group(1)) for m in map(_LAYER_RE.match, backbone) if m}
    if layer_ids:
        found['num_layers'] = max(layer_ids) + 1
    fc1 = backbone.get('layers.0.ffn.layers.0.0.weight')
    if fc1 is not None and fc1.dim() == 2:
        found['feedforward_channels'] = fc1.shape[0]
    pos = backbone.get('pos_embed')
    if pos is not None and pos.dim() == 3 and 'patch_size' in found:
        side = math.isqrt(pos.shape[1] - 1)
        if side * side == pos.shape[1] - 1:
            found['img_size'] = (side * found['patch_size'], ) * 2
    # 2. the stored config (or the record of an earlier conversion)
    cfg = backbone_cfg_from_meta(meta or {}) or {}
    previous = (meta or {}).get('mmamt_convert', {}).get('arch')
    if not cfg and isinstance(previous, dict):
        cfg = dict(arch=previous, **{k: previous[k] for k in ('img_size', 'patch_size',
                                                               'in_channels') if k in previous})
    explicit_flags = {}
    if cfg:
        try:
            found.update(_arch_settings(cfg.get('arch', 'b'), 'meta cfg model.backbone.arch'))
        except CheckpointConversionError:
            if arch is None and num_heads is None:
                raise  # nothing explicit to fall back on
        for key in ('img_size', 'patch_size', 'in_channels'):
            if isinstance(cfg.get(key), (int, list, tuple)):
                found[key] = cfg[key]
        if isinstance(cfg.get('qkv_bias'), bool):
            explicit_flags['qkv_bias'] = cfg['qkv_bias']
        if isinstance(cfg.get('layer_scale_init_value'), (int, float)):
            explicit_flags['layer_scale'] = cfg['layer_scale_init_value'] > 0
    # 3. explicit arguments
    if arch is not None:
        found.update(_arch_settings(arch, '--arch'))
    for key, value in (('num_heads', num_heads), ('img_size', img_size),
                       ('patch_size', patch_size)):
        if value is not None:
            found[key] = value
    required = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels', 'patch_size',
                'img_size')
    unknown = [k for k in required if k not in found]
    if unknown:
        raise CheckpointConversionError(
            f'cannot determine the encoder architecture ({", ".join(unknown)}): the checkpoint '
            "has no readable meta['cfg'] with model.backbone and the weights do not tell; pass "
            '--arch (an mmpretrain VisionTransformer arch name such as base / large / huge) or '
            '--num-heads (and --img-size / --patch-size if needed)')
    if found['embed_dims'] % found['num_heads']:
        raise CheckpointConversionError(
            f'num_heads={found["num_heads"]} does not divide embed_dims={found["embed_dims"]}')
    # Optional tensors: present in any layer means expected in every layer, unless the config
    # says otherwise explicitly.
    has = {
        'qkv_bias': any(k.endswith(_QKV_BIAS_KEY) for k in backbone),
        'layer_scale': any(k.endswith(_LAYER_SCALE_KEYS) for k in backbone),
    }
    for flag, value in explicit_flags.items():
        has[flag] = has[flag] or value
    return ViTArch(
        embed_dims=int(found['embed_dims']),
        num_layers=int(found['num_layers']),
        num_heads=int(found['num_heads']),
        feedforward_channels=int(found['feedforward_channels']),
        patch_size=int(found['patch_size']),
        img_size=_pair(found['img_size']),
        in_channels=int(found.get('in_channels', 3)),
        qkv_bias=has['qkv_bias'],
        layer_scale=has['layer_scale'])


def _arch_settings(arch: Union[str, dict], where: str) -> dict:
    if isinstance(arch, dict):
        keys = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels')
        if not all(isinstance(arch.get(k), int) for k in keys):
            raise CheckpointConversionError(
                f'{where} must be a dict with integer {keys}, got {arch}')
        return {k: arch[k] for k in keys}
    zoo = _mmpretrain_arch_zoo()
    if not isinstance(arch, str) or arch.lower() not in zoo:
        raise CheckpointConversionError(
            f'{where}={arch!r} is not an mmpretrain VisionTransformer arch; choose from '
            f'{sorted(zoo)}')
    return dict(zoo[arch.lower()])


# --------------------------------------------------------------------------------------------
# The conversion
# --------------------------------------------------------------------------------------------
def expected_source_shapes(arch: ViTArch) -> Dict[str, Tuple[int, ...]]:
    """Return every encoder tensor the architecture has, with its shape (mmpretrain names).

    Args:
        arch (ViTArch): The architecture.

    Returns:
        Dict[str, Tuple[int, ...]]: ``{name: shape}`` in state-dict order.
    """
    c, f, p = arch.embed_dims, arch.feedforward_channels, arch.patch_size
    gh, gw = arch.grid
    shapes: Dict[str, Tuple[int, ...]] = OrderedDict([
        ('cls_token', (1, 1, c)),
        ('pos_embed', (1, 1 + gh * gw, c)),
        ('patch_embed.projection.weight', (c, arch.in_channels, p, p)),
        ('patch_embed.projection.bias', (c, )),
    ])
    per_layer = OrderedDict([
        ('ln1.weight', (c, )), ('ln1.bias', (c, )),
        ('attn.qkv.weight', (3 * c, c)), (_QKV_BIAS_KEY, (3 * c, )),
        ('attn.proj.weight', (c, c)), ('attn.proj.bias', (c, )),
        ('attn.gamma1.weight', (c, )),
        ('ln2.weight', (c, )), ('ln2.bias', (c, )),
        ('ffn.layers.0.0.weight', (f, c)), ('ffn.layers.0.0.bias', (f, )),
        ('ffn.layers.1.weight', (c, f)), ('ffn.layers.1.bias', (c, )),
        ('ffn.gamma2.weight', (c, )),
    ])
    if not arch.qkv_bias:
        del per_layer[_QKV_BIAS_KEY]
    if not arch.layer_scale:
        for key in _LAYER_SCALE_KEYS:
            del per_layer[key]
    for i in range(arch.num_layers):
        for key, shape in per_layer.items():
            shapes[f'layers.{i}.{key}'] = shape
    shapes['ln1.weight'] = (c, )
    shapes['ln1.bias'] = (c, )
    return shapes


def target_key(source_key: str, target: str) -> str:
    """Return the target name of an mmpretrain encoder tensor name.

    Args:
        source_key (str): e.g. ``'layers.3.ffn.layers.0.0.weight'``.
        target (str): One of :data:`TARGETS`.

    Returns:
        str: e.g. ``'blocks.3.mlp.fc1.weight'`` for ``'timm'``.
    """
    renames = _RENAMES[target]
    match = _LAYER_RE.match(source_key)
    if match is None:
        return renames['global'].get(source_key, source_key)
    layer_name = _LAYER_NAME.get(target, 'layers')
    suffix = renames['layer'].get(match.group(2), match.group(2))
    return f'{layer_name}.{match.group(1)}.{suffix}'


def new_target_params(arch: ViTArch, target: str) -> Dict[str, str]:
    """Return the documented parameters a target adds, with the reason.

    Args:
        arch (ViTArch): The architecture.
        target (str): One of :data:`TARGETS`.

    Returns:
        Dict[str, str]: ``{target name: reason}``.
    """
    new: Dict[str, str] = OrderedDict()
    for i in range(arch.num_layers):
        if target == 'mmseg':
            if not arch.layer_scale:
                for name in ('gamma_1', 'gamma_2'):
                    new[f'layers.{i}.{name}'] = ('layer scale the source lacks; starts at '
                                                 'init_values (1.0 keeps the encoder exact)')
            new[f'layers.{i}.attn.relative_position_bias_table'] = (
                'relative position bias, starts at zero')
        elif target == 'mmdet':
            for name in ('rel_pos_h', 'rel_pos_w'):
                new[f'layers.{i}.attn.{name}'] = 'ViTDet relative positions, start at zero'
    return new


def convert_state_dict(backbone: Dict[str, torch.Tensor],
                       arch: ViTArch,
                       target: str,
                       other_keys: Optional[Dict[str, str]] = None,
                       progress: bool = False) -> Tuple[Dict[str, torch.Tensor], CoverageReport]:
    """Rename an mmpretrain ViT encoder state dict into a target's scheme.

    Args:
        backbone (Dict[str, torch.Tensor]): Encoder tensors without ``backbone.``.
        arch (ViTArch): The architecture (see :func:`infer_arch`).
        target (str): One of :data:`TARGETS`.
        other_keys (Dict[str, str], optional): Non-encoder source keys with the reason they are
            dropped (see :func:`split_backbone`). Defaults to None.
        progress (bool): Show a progress bar for encoders of at least
            :data:`PROGRESS_MIN_BYTES`. Defaults to False.

    Returns:
        Tuple[Dict[str, torch.Tensor], CoverageReport]: The converted tensors (target names, no
        prefix) and the report. The caller decides what an incomplete report means;
        :func:`convert_checkpoint` raises :class:`KeyCoverageError`.
    """
    if target not in TARGETS:
        raise ValueError(f'target must be one of {TARGETS}, got {target!r}')
    expected = expected_source_shapes(arch)
    drops = dict(_PRETRAIN_ONLY, **_TARGET_DROPS.get(target, {}))
    report = CoverageReport(target=target, arch=arch.describe(), source_keys=list(backbone))
    report.dropped.update(other_keys or {})
    out: Dict[str, torch.Tensor] = OrderedDict()
    keys: Iterable[str] = list(backbone)
    num_bytes = sum(v.numel() * v.element_size() for v in backbone.values())
    if progress and num_bytes >= PROGRESS_MIN_BYTES:
        from mmengine.utils import track_iter_progress
        keys = track_iter_progress(list(keys))
    for key in keys:
        value = backbone[key]
        if key in drops:
            report.dropped[BACKBONE_PREFIX + key] = drops[key]
        elif key not in expected:
            report.unused.append(key)
        elif tuple(value.shape) != expected[key]:
            report.mismatched.append(
                f'{key}: got {tuple(value.shape)}, expected {expected[key]}')
        else:
            name = target_key(key, target)
            out[name] = value
            report.used.append(key)
    report.missing = [k for k in expected if k not in backbone and k not in drops]
    # Zero qkv bias is exactly "no bias": every target's attention has one, so fill it rather
    # than let a loader leave it random.
    if not arch.qkv_bias:
        dtype = next(iter(backbone.values())).dtype
        for i in range(arch.num_layers):
            name = target_key(f'layers.{i}.{_QKV_BIAS_KEY}', target)
            out[name] = torch.zeros(3 * arch.embed_dims, dtype=dtype)
            report.synthesised[name] = 'the source has no qkv bias; zero is equivalent'
    report.new.update(new_target_params(arch, target))
    # Keep the output in the order of the architecture, not of the source file.
    order = {target_key(k, target): i for i, k in enumerate(expected)}
    out = OrderedDict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))
    report.filled = list(out)
    return out, report


def timm_model_name(arch: ViTArch) -> Optional[str]:
    """Return the registered timm ViT whose shapes match the architecture, if there is one.

    Args:
        arch (ViTArch): The architecture.

    Returns:
        str, optional: e.g. ``'vit_base_patch16_224'``, or None for custom sizes.
    """
    size = _TIMM_SIZES.get((arch.embed_dims, arch.num_layers, arch.num_heads,
                            arch.feedforward_channels))
    if size is None or arch.img_size[0] != arch.img_size[1] or arch.in_channels != 3:
        return None
    name = f'vit_{size}_patch{arch.patch_size}_{arch.img_size[0]}'
    import timm
    return name if timm.is_model(name) else None


def timm_model_kwargs(arch: ViTArch) -> dict:
    """Return the ``timm.create_model`` keyword arguments that make a model fit the export.

    Args:
        arch (ViTArch): The architecture.

    Returns:
        dict: Arguments for ``timm.create_model(name, **kwargs)`` or for timm's
        ``VisionTransformer`` directly (then ``embed_dim`` etc. matter too).
    """
    kwargs = dict(num_classes=0, img_size=arch.img_size, patch_size=arch.patch_size,
                  in_chans=arch.in_channels, embed_dim=arch.embed_dims, depth=arch.num_layers,
                  num_heads=arch.num_heads,
                  mlp_ratio=arch.feedforward_channels / arch.embed_dims, qkv_bias=True,
                  global_pool='token')
    if arch.layer_scale:
        kwargs['init_values'] = 1.0  # only makes timm build ls1/ls2; the values come from us
    return kwargs


def build_timm_model(arch: ViTArch, model_name: Optional[str] = None) -> torch.nn.Module:
    """Build the (randomly initialised) timm ViT that the ``timm`` export loads into.

    Args:
        arch (ViTArch): The architecture.
        model_name (str, optional): A timm model name; default: :func:`timm_model_name`, or a
            ``VisionTransformer`` with the architecture's sizes when no registered name fits.

    Returns:
        torch.nn.Module: The timm model, headless (``num_classes=0``).
    """
    import timm
    kwargs = timm_model_kwargs(arch)
    model_name = model_name or timm_model_name(arch)
    if model_name is None:
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(**kwargs)
    # A named model keeps its own sizes; only what the export needs is passed.
    named = {k: kwargs[k] for k in ('num_classes', 'img_size', 'qkv_bias', 'global_pool')}
    if 'init_values' in kwargs:
        named['init_values'] = kwargs['init_values']
    return timm.create_model(model_name, pretrained=False, **named)


@dataclass
class ConversionResult:
    """What :func:`convert_checkpoint` produced.

    Attributes:
        report (CoverageReport): Where every tensor went.
        arch (ViTArch): The encoder architecture used.
        output (dict): The object written: ``{'state_dict', 'meta'}``, or the flat state dict for
            ``timm``.
        info (dict): The conversion record (target, source, arch, coverage counts and, for
            ``timm``, the model name and ``create_model`` arguments).
    """

    report: CoverageReport
    arch: ViTArch
    output: dict
    info: dict


def convert_checkpoint(src: str,
                       dst: Optional[str],
                       target: str,
                       arch: Optional[Union[str, dict]] = None,
                       num_heads: Optional[int] = None,
                       img_size: Optional[Union[int, Sequence[int]]] = None,
                       patch_size: Optional[int] = None,
                       timm_model: Optional[str] = None,
                       progress: bool = False,
                       unsafe_load: bool = False) -> 'ConversionResult':
    """Convert a pre-training checkpoint for one downstream target and write it atomically.

    Args:
        src (str): The MAE-AMT, SimMIM-AMT or mmpretrain MAE checkpoint.
        dst (str, optional): Output path; None converts and checks without writing.
        target (str): One of :data:`TARGETS`.
        arch (str | dict, optional): Architecture override, see :func:`infer_arch`.
            Defaults to None.
        num_heads (int, optional): Attention heads override. Defaults to None.
        img_size (int | Sequence[int], optional): Pre-training image size override.
            Defaults to None.
        patch_size (int, optional): Patch size override. Defaults to None.
        timm_model (str, optional): The timm model name recorded for the ``timm`` target;
            default: :func:`timm_model_name`. Defaults to None.
        progress (bool): Show a progress bar (large encoders only). Defaults to False.
        unsafe_load (bool): See :func:`load_source`. Defaults to False.

    Returns:
        ConversionResult: The report, the architecture, what was (or would be) written and the
        conversion info stored in its ``meta``.

    Raises:
        CheckpointConversionError: For inputs that cannot be converted.
        KeyCoverageError: If any encoder weight is missing, unused or of a wrong shape.
    """
    if target not in TARGETS:
        raise CheckpointConversionError(f'--to must be one of {TARGETS}, got {target!r}')
    state_dict, meta = load_source(src, unsafe_load=unsafe_load)
    backbone, rest = split_backbone(state_dict)
    vit = infer_arch(backbone, meta, arch=arch, num_heads=num_heads, img_size=img_size,
                     patch_size=patch_size)
    converted, report = convert_state_dict(backbone, vit, target, rest, progress=progress)
    if not report.ok:
        raise KeyCoverageError(report)
    info = dict(target=target, source=osp.abspath(src), arch=vit.to_dict(),
                coverage=report.summary())
    if target == 'timm':
        info['timm_model'] = timm_model or timm_model_name(vit)
        info['timm_kwargs'] = {k: list(v) if isinstance(v, tuple) else v
                               for k, v in timm_model_kwargs(vit).items()}
        obj = dict(converted)  # timm loads a bare state dict (strict=True needs no extras)
    else:
        if target == 'mmpretrain':
            converted = OrderedDict((BACKBONE_PREFIX + k, v) for k, v in converted.items())
        from mmamt import __version__
        obj = dict(state_dict=converted,
                   meta=dict(mmamt_version=__version__, mmamt_convert=info))
    if dst is not None:
        atomic_torch_save(obj, dst)
    return ConversionResult(report=report, arch=vit, output=obj, info=info)
