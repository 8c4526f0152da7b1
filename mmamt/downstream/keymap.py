"""One account of every pre-trained tensor: a key map per downstream target and one checker.

The source is a plain-ViT MIM encoder with mmpretrain ``VisionTransformer`` names (``cls_token``,
``pos_embed``, ``patch_embed.projection.*``, ``layers.N.{ln1, attn.qkv, attn.proj, attn.gamma1,
ln2, ffn.layers.0.0, ffn.layers.1, ffn.gamma2}.*``, ``ln1.*``; ``mask_token`` in SimMIM and
MaskFeat, ``proj_layers.*`` / ``proj_weights`` in MFF, all pre-training only). Each
target has one :class:`KeyMap`: how a source name is renamed, which target tensors are new (the
source cannot have them) and which source tensors are dropped by design. :func:`match_keys` holds
a state dict against what a target module really has (its own ``state_dict()``); the converter
and the strict loaders of ``ViTDetBackbone`` and ``MAEStrict`` all use it, and all fail with
:class:`KeyCoverageError`. This module imports neither mmdet nor mmseg.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch


@dataclass(frozen=True)
class KeyMap:
    """How the encoder tensors of an mmpretrain ViT map onto one target module.

    Args:
        renames (Tuple[Tuple[str, str], ...]): ``(pattern, replacement)`` pairs applied in order
            with ``re.sub`` to every source name; names already in the target's scheme pass
            unchanged. Defaults to none.
        new (Mapping[str, str]): Target names (full-match patterns) that a pre-training
            checkpoint cannot have, with the reason; they keep the module's initial value.
        dropped (Mapping[str, str]): Source names (full-match patterns) the target leaves out on
            purpose, with the reason.
    """

    renames: Tuple[Tuple[str, str], ...] = ()
    new: Mapping[str, str] = field(default_factory=dict)
    dropped: Mapping[str, str] = field(default_factory=dict)

    def rename(self, key: str) -> str:
        """Return the target name of a source name, e.g. ``layers.0.ln1.weight`` (timm:
        ``blocks.0.norm1.weight``)."""
        for pattern, replacement in self.renames:
            key = re.sub(pattern, replacement, key)
        return key


def _reason(patterns: Mapping[str, str], key: str) -> Optional[str]:
    return next((why for pattern, why in patterns.items() if re.fullmatch(pattern, key)), None)


_PRETRAIN_ONLY = {
    'mask_token': 'pre-training mask token',
    # MFF fuses several blocks' outputs in pre-training only; downstream it is a plain ViT
    r'proj_layers\.\d+\.(weight|bias)': 'MFF level fusion (pre-training only)',
    'proj_weights': 'MFF level fusion weights (pre-training only)',
}
KEY_MAPS: Dict[str, KeyMap] = {
    'mmpretrain':
    KeyMap(dropped=_PRETRAIN_ONLY),
    'mmdet':
    KeyMap(
        new={r'layers\.\d+\.attn\.rel_pos_[hw]': 'ViTDet relative positions, start at zero'},
        dropped={
            **_PRETRAIN_ONLY, 'cls_token': 'ViTDet uses no class token'
        }),
    'mmseg':
    KeyMap(
        renames=((r'\.attn\.gamma1\.weight$', '.gamma_1'), (r'\.ffn\.gamma2\.weight$', '.gamma_2')),
        new={
            r'layers\.\d+\.gamma_[12]': 'layer scale the source lacks, starts at init_values '
            '(1.0 keeps the encoder exact)',
            r'layers\.\d+\.attn\.relative_position_bias_table': 'relative position bias, '
            'starts at zero',
            r'layers\.\d+\.attn\.relative_position_index': 'index buffer computed from the grid',
        },
        dropped=_PRETRAIN_ONLY),
    'timm':
    KeyMap(
        renames=((r'^patch_embed\.projection\.',
                  'patch_embed.proj.'), (r'^ln1\.', 'norm.'), (r'^layers\.', 'blocks.'),
                 (r'\.ln([12])\.', r'.norm\1.'), (r'\.attn\.gamma1\.weight$', '.ls1.gamma'),
                 (r'\.ffn\.gamma2\.weight$', '.ls2.gamma'), (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'),
                 (r'\.ffn\.layers\.1\.', '.mlp.fc2.')),
        dropped=_PRETRAIN_ONLY),
}


def _abbreviate(names: Sequence[str], limit: int = 4) -> str:
    """Write per-layer names once with ``N`` for the index (``layers.N.gamma_1 x12``)."""
    counts: Dict[str, int] = OrderedDict()
    for name in names:
        key = re.sub(r'^(layers|blocks)\.\d+\.', r'\1.N.', name)
        counts[key] = counts.get(key, 0) + 1
    parts = [p if c == 1 else f'{p} x{c}' for p, c in counts.items()]
    if len(parts) > limit:
        parts = parts[:limit] + [f'... ({len(parts) - limit} more)']
    return ', '.join(parts)


def _by_reason(entries: Mapping[str, str]) -> Dict[str, List[str]]:
    groups: Dict[str, List[str]] = OrderedDict()
    for name, why in entries.items():
        groups.setdefault(why, []).append(name)
    return groups


@dataclass
class Coverage:
    """Where every tensor of one state dict went, held against one target module.

    Attributes:
        target (str): What the tensors were held against (``'mmdet'``, a class name, ...).
        source (str): Where they came from, for messages.
        used (List[str]): Source names that fill a target tensor.
        synthesised (Dict[str, str]): Target names filled with an implied value, with the reason.
        new (Dict[str, str]): Target names left at their initial value by design, with the
            reason.
        dropped (Dict[str, str]): Source names left out by design, with the reason.
        missing (List[str]): Target names nothing fills.
        unused (List[str]): Source names nothing takes.
        mismatched (List[str]): ``'name: got (...), expected (...)'`` lines.
    """

    target: str
    source: str = '<state dict>'
    used: List[str] = field(default_factory=list)
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
        """Return the count of every category (stored in a converted checkpoint's meta)."""
        return {
            name: len(getattr(self, name))
            for name in ('used', 'synthesised', 'new', 'dropped', 'missing', 'unused', 'mismatched')
        }

    def line(self) -> str:
        """Return a one-line summary for a log, e.g. ``loaded 53/53 pre-trained tensors``."""
        filled = len(self.used) + len(self.synthesised)
        return (f'{self.target}: loaded {filled}/{filled + len(self.missing)} pre-trained '
                f'tensors from {self.source}; new: {_abbreviate(list(self.new)) or "none"}; '
                f'dropped: {_abbreviate(list(self.dropped)) or "none"}')

    def format(self, max_listed: int = 20) -> str:
        """Return the full report: counts, the reasons, then the offending names.

        Args:
            max_listed (int): List at most this many names per failure. Defaults to 20.

        Returns:
            str: One item per line.
        """
        n = self.summary()
        lines = [f'Key coverage, {self.source} -> {self.target}:']
        for title, key in (('used', 'used'), ('synthesised', 'synthesised'),
                           ('new (documented)', 'new'), ('dropped by design', 'dropped'),
                           ('missing', 'missing'), ('unused', 'unused'), ('wrong shape',
                                                                          'mismatched')):
            lines.append(f'  {title:<23}: {n[key]}')
        for title, entries in (('synthesised', self.synthesised), ('new', self.new),
                               ('dropped', self.dropped)):
            for why, names in _by_reason(entries).items():
                lines.append(f'  {title}: {_abbreviate(names)} ({why})')
        for title, names in (('MISSING', self.missing), ('UNUSED', self.unused), ('WRONG SHAPE',
                                                                                  self.mismatched)):
            lines += [f'  {title}: {name}' for name in names[:max_listed]]
            if len(names) > max_listed:
                lines.append(f'  {title}: ... and {len(names) - max_listed} more')
        lines.append('  -> complete' if self.ok else '  -> INCOMPLETE')
        return '\n'.join(lines)

    def check(self) -> 'Coverage':
        """Return self when complete; raise :class:`KeyCoverageError` otherwise."""
        if not self.ok:
            raise KeyCoverageError(self)
        return self


class KeyCoverageError(RuntimeError):
    """A state dict does not fit a target: a tensor is missing, unused or of a wrong shape.

    Args:
        coverage (Coverage): The full account; the message holds its report and a hint.
    """

    def __init__(self, coverage: Coverage) -> None:
        self.coverage = coverage
        c = coverage
        msg = (f'{c.source} does not fit {c.target}: {len(c.missing)} missing, '
               f'{len(c.unused)} unused, {len(c.mismatched)} with a wrong shape\n{c.format()}')
        if any(k.startswith('backbone.') for k in c.unused):
            msg += ("\nThe keys carry a 'backbone.' prefix (a whole pre-training model): convert "
                    'it with `python tools/model_converters/convert_amt.py IN OUT --to ...`.')
        elif any(k.startswith('blocks.') for k in c.unused):
            msg += ('\nThe keys look like timm / official MAE names (blocks.N.*); this needs '
                    'mmpretrain VisionTransformer names.')
        elif len(c.mismatched) > len(c.used):
            msg += '\nMost shapes do not fit: check the architecture in the config.'
        super().__init__(msg)


def match_keys(
    state_dict: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    key_map: KeyMap,
    target: str,
    source: str = '<state dict>',
    dropped: Optional[Mapping[str, str]] = None,
    source_names: Optional[Collection[str]] = None
) -> Tuple['OrderedDict[str, torch.Tensor]', Coverage]:
    """Rename a state dict into a target's scheme and account for every tensor on both sides.

    Args:
        state_dict (Mapping[str, torch.Tensor]): Source tensors (mmpretrain names, or the
            target's names already).
        expected (Mapping[str, torch.Tensor]): The target module's ``state_dict()``; only names
            and shapes are read.
        key_map (KeyMap): The target's key map.
        target (str): The target's name, for messages.
        source (str): Where the tensors come from, for messages. Defaults to
            ``'<state dict>'``.
        dropped (Mapping[str, str], optional): Further source names (full-match patterns)
            dropped by design for this module, e.g. ``ln1.*`` without a final norm.
            Defaults to None.
        source_names (Collection[str], optional): The names a source may have (e.g. an
            mmpretrain ``VisionTransformer``'s); other tensors are unused even where a rename
            would make them fit. Defaults to None: any name, target names included.

    Returns:
        Tuple[OrderedDict[str, torch.Tensor], Coverage]: The tensors that fill the target
        (target names, in the target's order) and the account. Call :meth:`Coverage.check` to
        refuse an incomplete one.
    """
    drops = {**key_map.dropped, **(dropped or {})}
    coverage = Coverage(target=target, source=source)
    taken: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        known = source_names is None or key in source_names
        name = key_map.rename(key) if known else None
        why = _reason(drops, key)
        if name not in expected:
            if why is None:
                coverage.unused.append(key)
            else:
                coverage.dropped[key] = why
        elif tuple(value.shape) != tuple(expected[name].shape):
            coverage.mismatched.append(
                f'{key}: got {tuple(value.shape)}, expected {tuple(expected[name].shape)}')
        else:
            taken[name] = value
            coverage.used.append(key)
    for name in expected:
        if name not in taken:
            why = _reason(key_map.new, name)
            if why is None:
                coverage.missing.append(name)
            else:
                coverage.new[name] = why
    return OrderedDict((k, taken[k]) for k in expected if k in taken), coverage


def read_state_dict(checkpoint: Union[str, Mapping[str, torch.Tensor]],
                    prefix: Optional[str] = None,
                    map_location: str = 'cpu') -> 'OrderedDict[str, torch.Tensor]':
    """Read the state dict of a checkpoint for a strict loader.

    Args:
        checkpoint (str | Mapping[str, torch.Tensor]): A path or URL holding
            ``{'state_dict': ...}``, ``{'model': ...}`` or a bare state dict; or a state dict.
        prefix (str, optional): Keep only the keys under this prefix, stripped (e.g.
            ``'backbone.'`` for a whole pre-training model). Defaults to None.
        map_location (str): Where to load tensors. Defaults to ``'cpu'``.

    Returns:
        OrderedDict[str, torch.Tensor]: The state dict.

    Raises:
        ValueError: If no key starts with ``prefix``.
    """
    ckpt = checkpoint
    if isinstance(checkpoint, str):
        from mmengine.runner.checkpoint import _load_checkpoint
        ckpt = _load_checkpoint(checkpoint, map_location=map_location)
    if not isinstance(ckpt, Mapping):
        raise TypeError(f'{checkpoint!r} holds a {type(ckpt).__name__}, not a state dict')
    for key in ('state_dict', 'model'):
        if isinstance(ckpt.get(key), Mapping):
            ckpt = ckpt[key]
            break
    state_dict = OrderedDict(ckpt)
    if prefix:
        state_dict = OrderedDict(
            (k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
        if not state_dict:
            source = checkpoint if isinstance(checkpoint, str) else 'the state dict'
            raise ValueError(f'init_cfg.prefix={prefix!r}: no key of {source} starts with it')
    return state_dict
