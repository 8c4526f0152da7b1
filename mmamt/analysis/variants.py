"""The variants of a comparison: each one a config plus overrides, made into run configs.

Schedule scaling keeps the shape of the config's schedule: with ``f = epochs / max_epochs``,
every by-epoch ``param_scheduler`` boundary and ``AttentionRefreshHook``'s ``start_epoch``,
``interval`` and ``stop_epoch`` are multiplied by ``f`` (rounded, at least 1), so "AMT from 20% of
the epochs, a refresh every 20%" stays that at any length. Overrides apply after the scaling, at
the length asked for.

Overrides: ``key=value`` as ``--cfg-options`` takes them (``optim_wrapper.optimizer.lr=1e-3``),
plus ``mask_generator.<arg>=value``, which sets ``<arg>`` of every ``AMTMaskGenerator`` in the
training pipeline, and ``refresh_hook.<arg>=value`` for the ``AttentionRefreshHook``
(``default_hooks.amt_refresh``; a list index would break whenever the pipeline changes), also
one level into a component argument: ``refresh_hook.map_source=PatchAttentionMap
refresh_hook.map_source.layers=[-1,-2]``. Where
the pieces sit is :mod:`mmamt.utils.amt_config`'s business. ``object_map=true`` steers the AMT
mask by the object mask instead of the attention (:class:`~mmamt.analysis.object_maps.
ObjectMaskAsMap` after ``LoadAttentionMap``): the oracle that bounds what a better attention
source could give; it needs object masks beside the data (the digits, the synthetic set).

:func:`check_request` checks a whole comparison (data, seeds, every variant's keys and values)
before any run starts, so that a typo costs a second, not a run.
"""
import argparse
import inspect
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Sequence

from mmengine.config import Config, ConfigDict, DictAction

from mmamt.models.utils.map_sources import MAP_SOURCE_KEY
from mmamt.utils.amt_config import (MAP_LOADER, MASK_GENERATOR, REFRESH_HOOK, REFRESH_HOOK_KEY,
                                    TRAIN_PIPELINE, check_amt_wiring, find_transforms,
                                    mask_generator_arg, refresh_arg, refresh_hook_cfg,
                                    train_pipelines, without_refresh_panels)

MASK_GENERATOR_PREFIX = 'mask_generator.'
REFRESH_HOOK_PREFIX = 'refresh_hook.'
OBJECT_MAP = 'object_map'


@dataclass
class Variant:
    """A named pre-training variant.

    Args:
        name (str): Name in the table and the work dir (letters, digits, ``-_.``).
        config (str): Pre-training config file.
        options (dict): Overrides, ``{key: value}`` (see the module docstring).
    """
    name: str
    config: str
    options: Dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in '-_.' for c in self.name):
            raise ValueError(f'variant name {self.name!r} must be non-empty letters, digits, '
                             '"-", "_" or "."')


def parse_variant(tokens: Sequence[str]) -> Variant:
    """``['NAME=CONFIG', 'KEY=VALUE', ...]`` (one ``--variant`` of the tool) to a Variant.

    Values are parsed as ``--cfg-options`` parses them (numbers, booleans, lists, strings).
    """
    if not tokens or '=' not in tokens[0]:
        raise ValueError(f'--variant needs NAME=CONFIG first, got {list(tokens)!r}')
    name, config = tokens[0].split('=', 1)
    for token in tokens[1:]:
        if '=' not in token:
            raise ValueError(f'variant {name!r}: override {token!r} is not KEY=VALUE')
    # The parser tools/train.py uses for --cfg-options, on the override tokens alone.
    parser = argparse.ArgumentParser(prog=f'variant {name}', add_help=False)
    parser.add_argument('options', nargs='*', action=DictAction)
    options = parser.parse_args(list(tokens[1:])).options or {}
    return Variant(name, config, dict(options))


def _scale(value: int, factor: float, minimum: int = 0) -> int:
    return max(minimum, int(round(value * factor)))


def scale_schedule(cfg: Config, epochs: int) -> None:
    """Stretch the config's epoch-based schedule to ``epochs`` in place (see module docstring).

    Raises:
        ValueError: If ``epochs`` < 1 or the config has no ``train_cfg.max_epochs``.
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f'epochs={epochs} must be an integer >= 1')
    old = cfg.get('train_cfg', {}).get('max_epochs')
    if not old:
        raise ValueError('the config has no train_cfg.max_epochs (an epoch-based loop is needed)')
    factor = epochs / old
    cfg.train_cfg.max_epochs = int(epochs)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        if not sched.get('by_epoch', True):
            continue
        begin, end = sched.get('begin', 0), sched.get('end', old)
        new_begin = _scale(begin, factor)
        new_end = epochs if end >= old else max(new_begin + 1, _scale(end, factor, 1))
        if 'T_max' in sched:
            sched['T_max'] = (
                new_end - new_begin if sched['T_max'] == end -
                begin else _scale(sched['T_max'], factor, 1))
        sched['begin'], sched['end'] = new_begin, new_end
    if refresh_hook_cfg(cfg) is not None:
        hook = refresh_hook_cfg(cfg)
        for arg in ('start_epoch', 'interval'):
            hook[arg] = _scale(refresh_arg(cfg, arg), factor, 1)
        if refresh_arg(cfg, 'stop_epoch') is not None:
            hook['stop_epoch'] = max(hook['start_epoch'] + 1,
                                     _scale(refresh_arg(cfg, 'stop_epoch'), factor, 1))


def apply_options(cfg: Config, options: Dict) -> None:
    """Apply a variant's overrides in place (see the module docstring for the keys).

    Raises:
        KeyError: If a ``mask_generator.`` (``refresh_hook.``) override is given but the
            training pipeline has no ``AMTMaskGenerator`` (the config no
            ``AttentionRefreshHook``).
    """
    targets = {
        MASK_GENERATOR_PREFIX: ('train_dataloader.dataset.pipeline', MASK_GENERATOR,
                                lambda: find_transforms(cfg, MASK_GENERATOR)),
        REFRESH_HOOK_PREFIX: (f'default_hooks.{REFRESH_HOOK_KEY}', REFRESH_HOOK,
                              lambda: [h for h in [refresh_hook_cfg(cfg)] if h is not None]),
    }
    options = dict(options)
    if options.pop(OBJECT_MAP, False):
        use_object_maps(cfg)
    plain = {}
    for key, value in options.items():
        prefix = next((p for p in targets if key.startswith(p)), None)
        if prefix is None:
            plain[key] = value
            continue
        where, type_name, items = targets[prefix]
        steps = items()
        if not steps:
            raise KeyError(f'override {key!r}: {where} has no {type_name}')
        for t in steps:
            _set_arg(t, key[len(prefix):], value)
    if plain:
        cfg.merge_from_dict(plain)


def _set_arg(step: Dict, arg: str, value) -> None:
    """Set ``arg`` of a pipeline step or hook; ``a.b`` sets ``b`` of the argument ``a``, a
    component config (``map_source.layers=[-1,-2]``; a type name there becomes its dict)."""
    *outer, last = arg.split('.')
    for name in outer:
        inner = step.get(name)
        if isinstance(inner, str):
            inner = dict(type=inner)
        elif inner is None:
            inner = {}
        step[name] = inner
        step = step[name]  # a ConfigDict stores a copy
    step[last] = value


def use_object_maps(cfg: Config) -> None:
    """Put ``ObjectMaskAsMap`` right after the training pipeline's ``LoadAttentionMap``.

    Raises:
        KeyError: If the pipeline has no ``LoadAttentionMap`` (not an AMT config).
    """
    if not find_transforms(cfg, MAP_LOADER):
        raise KeyError(f'override {OBJECT_MAP!r}: {TRAIN_PIPELINE} has no {MAP_LOADER}')
    grid = int(mask_generator_arg(cfg, 'input_size')) // int(
        mask_generator_arg(cfg, 'model_patch_size'))
    for pipeline in train_pipelines(cfg):
        for i in reversed(range(len(pipeline))):
            if isinstance(pipeline[i], dict) and pipeline[i].get('type') == MAP_LOADER:
                pipeline.insert(i + 1, ConfigDict(type='ObjectMaskAsMap', grid=grid))


def build_run_config(variant: Variant,
                     data_root: str,
                     work_dir: str,
                     epochs: int,
                     seed: int,
                     keep_visualization: bool = False) -> Config:
    """The mmengine config of one run of ``variant``.

    Args:
        variant (Variant): What to train.
        data_root (str): Class-folder data (``train/``; the probe also reads ``val/``).
        work_dir (str): The run's work dir.
        epochs (int): Length of the run; the schedule is scaled to it.
        seed (int): ``randomness.seed`` (initialisation, masks, data order).
        keep_visualization (bool): Keep the refresh hook's panels (``num_panels``).
            Defaults to False: comparisons measure training, not drawing.

    Returns:
        Config: Ready for ``Runner.from_cfg``.
    """
    cfg = Config.fromfile(variant.config)
    scale_schedule(cfg, epochs)
    apply_options(cfg, variant.options)
    cfg.work_dir = osp.abspath(work_dir)
    cfg.train_dataloader.dataset.data_root = osp.abspath(data_root)
    cfg.randomness = dict(seed=int(seed), diff_rank_seed=True)
    if not keep_visualization:
        without_refresh_panels(cfg)
    # Only the final checkpoint: it is what gets probed.
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=int(epochs), max_keep_ckpts=1)
    return cfg


def dry_run_config(variant: Variant, data_root: str, epochs: int) -> Config:
    """The run config of ``variant`` for looking at, not training (a placeholder work dir)."""
    return build_run_config(variant, data_root, osp.join(data_root, '.unused'), epochs, 0)


def _image_extensions() -> tuple:
    """What ``CustomDataset`` (the runs' and the probe's loader) takes by default."""
    from mmpretrain.datasets import CustomDataset
    return tuple(inspect.signature(CustomDataset.__init__).parameters['extensions'].default)


def check_data_root(data_root: str) -> None:
    """Refuse a data folder the runs or the probe could not read.

    Raises:
        ValueError: Unless ``train/`` and ``val/`` each hold class folders with images in them.
    """
    extensions = _image_extensions()
    for split in ('train', 'val'):
        folder = osp.join(data_root, split)
        if not osp.isdir(folder):
            raise ValueError(f'data_root {data_root!r} has no {split}/ folder: the harness needs '
                             'class folders under train/ and val/ (e.g. tools/dataset_converters/'
                             'digits_to_folders.py data/digits)')
        classes = sorted(d for d in os.listdir(folder) if osp.isdir(osp.join(folder, d)))
        empty = [
            c for c in classes
            if not any(f.lower().endswith(extensions) for f in os.listdir(osp.join(folder, c)))
        ]
        if not classes or empty:
            raise ValueError(f'data_root {data_root!r}: {split}/ has ' +
                             (f'class folders without images ({", ".join(empty[:3])})'
                              if empty else 'no class folders'))


def check_seeds(seeds: Sequence[int]) -> None:
    """Each seed once (two copies of a seed are one run counted twice), all integers >= 0."""
    if not seeds:
        raise ValueError('--seeds: give at least one seed')
    bad = [s for s in seeds if int(s) != s or s < 0]
    if bad:
        raise ValueError(f'--seeds {list(seeds)}: seeds must be integers >= 0, got {bad}')
    twice = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if twice:
        raise ValueError(f'--seeds {list(seeds)}: seed(s) {twice} given more than once; each '
                         'seed is one run, a copy would only repeat it (and share its work dir)')


def _accepts(cls: type, arg: str) -> bool:
    params = inspect.signature(cls.__init__).parameters
    return arg in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _registered(type_name: str):
    """The class registered as ``type_name`` in mmpretrain's registries (or their parents)."""
    from mmpretrain import registry
    for name in ('MODELS', 'TRANSFORMS', 'HOOKS', 'DATASETS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
                 'PARAM_SCHEDULERS', 'LOOPS', 'DATA_SAMPLERS', 'VISUALIZERS', 'VISBACKENDS'):
        cls = getattr(registry, name).get(type_name)
        if cls is not None:
            return cls
    return None


def _check_plain_key(cfg: Config, key: str) -> None:
    """A ``--cfg-options`` key must name a setting of the config or of the class it builds."""
    node: Any = cfg.to_dict()
    parts = key.split('.')
    for i, part in enumerate(parts):
        where = '.'.join(parts[:i]) or 'the config'
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f'{where} is a list of {len(node)}: no item {part!r}')
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise KeyError(f'{where} is {node!r}, not a dict with {part!r}')
        if part in node:
            node = node[part]
            continue
        cls = _registered(node['type']) if i == len(parts) - 1 and 'type' in node else None
        if cls is not None and isinstance(node['type'], str) and _accepts(cls, part):
            return
        known = ', '.join(sorted(node)[:12])
        raise KeyError(f'{where} has no {part!r}' + (f' (it has {known})' if known else ''))


def _check_object_maps(value, data_root: str) -> None:
    """``object_map=true`` needs a bool and an object mask for the data's first image."""
    if not isinstance(value, bool):
        raise KeyError('must be true or false')
    if not value:
        return
    from .attention_stats import object_mask_path
    train = osp.join(data_root, 'train')
    extensions = _image_extensions()
    first = next((osp.join(d, f) for d, _, files in sorted(os.walk(train))
                  for f in sorted(files) if f.lower().endswith(extensions)), None)
    if first is None or object_mask_path(first) is None:
        raise KeyError(f'no object mask for {first or train} (a masks/ tree beside the class '
                       'folders, as tools/dataset_converters/digits_to_folders.py writes, or the '
                       "synthetic set's ADE label maps)")


def check_variant(variant: Variant, data_root: str, epochs: int) -> None:
    """Build the variant's run config and what its overrides touch, without training.

    Raises:
        ValueError: Naming the variant and the key: an override of a setting that does not
            exist, a value its class refuses, or AMT pieces that do not come together.
    """
    if not osp.isfile(variant.config):
        raise ValueError(f'variant {variant.name!r}: config {variant.config!r} does not exist')
    from mmpretrain.registry import HOOKS, TRANSFORMS

    from mmamt.utils import config_scope
    base = Config.fromfile(variant.config)
    for key, value in variant.options.items():
        try:
            if key.startswith(MASK_GENERATOR_PREFIX):
                arg, cls = key[len(MASK_GENERATOR_PREFIX):], TRANSFORMS.get(MASK_GENERATOR)
            elif key.startswith(REFRESH_HOOK_PREFIX):
                arg, cls = key[len(REFRESH_HOOK_PREFIX):], HOOKS.get(REFRESH_HOOK)
            elif key == OBJECT_MAP:
                _check_object_maps(value, data_root)
                continue
            else:
                _check_plain_key(base, key)
                continue
            arg = arg.split('.')[0]  # map_source.layers: an argument of map_source
            if not _accepts(cls, arg):
                args = [p for p in inspect.signature(cls.__init__).parameters if p != 'self']
                raise KeyError(f'{cls.__name__} has no argument {arg!r} (it has '
                               f'{", ".join(args)})')
        except KeyError as err:
            raise ValueError(f'variant {variant.name!r}: override {key}={value!r}: '
                             f'{err.args[0]}') from None
    try:
        cfg = dry_run_config(variant, data_root, epochs)
        check_amt_wiring(cfg)
        with config_scope(cfg):
            for t in find_transforms(cfg, MASK_GENERATOR):
                TRANSFORMS.build(dict(t))
            hook_cfg = refresh_hook_cfg(cfg)
            if hook_cfg is not None:
                hook = HOOKS.build(dict(hook_cfg))
                if MAP_SOURCE_KEY in hook_cfg:  # its layers against the model
                    from mmpretrain.registry import MODELS
                    hook.map_source.check_model(MODELS.build(cfg.model))
    except (KeyError, ValueError, TypeError) as err:
        raise ValueError(f'variant {variant.name!r} ({variant.config}, '
                         f'{variant.options or "no overrides"}): {err}') from None


class RequestError(ValueError):
    """A comparison the harness refuses before any run starts (see :func:`check_request`)."""


def check_request(variants: Sequence[Variant], data_root: str, epochs: int,
                  seeds: Sequence[int]) -> None:
    """Check a whole comparison before any run starts: a bad request costs nothing.

    Raises:
        RequestError: The first problem: epochs, seeds, the data folder, a variant name used
            twice, or a variant's config, override keys or values.
    """
    try:
        _check_request(variants, data_root, epochs, seeds)
    except ValueError as err:
        raise RequestError(str(err)) from None


def _check_request(variants: Sequence[Variant], data_root: str, epochs: int,
                   seeds: Sequence[int]) -> None:
    if not variants:
        raise ValueError('give at least one --variant')
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f'--epochs {epochs} must be an integer >= 1')
    check_seeds(seeds)
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f'variant name(s) {twice} used more than once; names must be unique '
                         '(each names its work dir)')
    check_data_root(data_root)
    for variant in variants:
        check_variant(variant, data_root, epochs)
