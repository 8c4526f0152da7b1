"""Where the AMT pieces sit in a config, what their defaults are, and whether they fit together.

An AMT pre-training config has three pieces that only work together:

- ``AttentionRefreshHook`` in ``default_hooks.amt_refresh``. It sits in ``default_hooks``, not
  ``custom_hooks``, because config inheritance merges dicts and replaces lists: a derived config
  that sets ``custom_hooks = [dict(type='EMAHook')]`` the usual OpenMMLab way keeps AMT, and one
  that means to drop it says so, ``default_hooks = dict(amt_refresh=dict(enable=False))`` (and
  removes the AMT transforms; mmengine accepts ``None`` only for its own default hooks). A
  refresh hook in ``custom_hooks`` is found as well.
- ``LoadAttentionMap`` and ``AMTMaskGenerator`` in ``train_dataloader.dataset.pipeline``
  (through dataset wrappers).

Every tool asks this module instead of searching configs itself, and a default (the refresh
schedule, ``map_norm``) is read from the class signature, so changing one is one edit. The
refresh hook owns *when* (its schedule); the mask generator owns every guidance setting
(ratios, powers, ramp, and ``map_norm``, how the refresh pass makes the maps it reads).
"""
import copy
import inspect
from typing import Any, List, Optional, Sequence, Tuple

REFRESH_HOOK_KEY = 'amt_refresh'
REFRESH_HOOK = 'AttentionRefreshHook'
MASK_GENERATOR = 'AMTMaskGenerator'
MAP_LOADER = 'LoadAttentionMap'
TRAIN_PIPELINE = 'train_dataloader.dataset.pipeline'


def refresh_hooks(cfg) -> List[Tuple[str, dict]]:
    """Every ``AttentionRefreshHook`` of the config with where it sits.

    Returns:
        list[tuple[str, dict]]: ``(location, hook config)``, e.g.
        ``('default_hooks.amt_refresh', {...})`` or ``('custom_hooks[1]', {...})``.
    """
    found = []
    for key, hook in (cfg.get('default_hooks') or {}).items():
        if hook is not None and hook.get('type') == REFRESH_HOOK:
            found.append((f'default_hooks.{key}', hook))
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if hook.get('type') == REFRESH_HOOK:
            found.append((f'custom_hooks[{i}]', hook))
    return found


def refresh_hook_cfg(cfg) -> Optional[dict]:
    """The config's enabled ``AttentionRefreshHook`` (the dict in the config, edits stick).

    Returns:
        dict | None: None when the config has none, or only one with ``enable=False``.

    Raises:
        ValueError: If the config has more than one (two refresh passes per point, two banks).
    """
    found = [(loc, hook) for loc, hook in refresh_hooks(cfg) if hook.get('enable', True)]
    if len(found) > 1:
        raise ValueError(f'the config has {len(found)} {REFRESH_HOOK}s ('
                         f'{", ".join(loc for loc, _ in found)}); keep one, in '
                         f'default_hooks.{REFRESH_HOOK_KEY}')
    return found[0][1] if found else None


def train_pipelines(cfg) -> List[list]:
    """The training pipelines of ``train_dataloader.dataset``, through dataset wrappers."""

    def walk(dataset) -> List[list]:
        found = [dataset['pipeline']] if 'pipeline' in dataset else []
        for key in ('dataset', 'datasets'):
            inner = dataset.get(key)
            for d in (inner if isinstance(inner, (list, tuple)) else [inner] if inner else []):
                found += walk(d)
        return found

    loader = cfg.get('train_dataloader')
    return walk(loader['dataset']) if loader and loader.get('dataset') else []


def find_transforms(cfg, type_name: str) -> List[dict]:
    """Every transform config of ``type_name`` in the training pipelines (edits stick)."""
    return [
        t for pipeline in train_pipelines(cfg) for t in pipeline
        if isinstance(t, dict) and t.get('type') == type_name
    ]


def mask_generator_cfg(cfg) -> Optional[dict]:
    """The first ``AMTMaskGenerator`` of the training pipeline, or None."""
    found = find_transforms(cfg, MASK_GENERATOR)
    return found[0] if found else None


def mask_generator_arg(cfg, arg: str) -> Any:
    """An argument of the config's ``AMTMaskGenerator``, its class default when the config omits
    it.

    Raises:
        ValueError: If the training pipeline has no ``AMTMaskGenerator``.
    """
    generator = mask_generator_cfg(cfg)
    if generator is None:
        raise ValueError(f'{TRAIN_PIPELINE} has no {MASK_GENERATOR}')
    return generator[arg] if arg in generator else default_arg(MASK_GENERATOR, arg)


def built_transforms(dataset, type_name: str) -> list:
    """The transforms of ``type_name`` (or a subclass) in a built training set's pipeline: what
    :func:`find_transforms` finds in the config, once the Runner has built it."""
    from mmpretrain.registry import TRANSFORMS
    cls = TRANSFORMS.get(type_name)
    return [t for t in getattr(dataset.pipeline, 'transforms', []) if isinstance(t, cls)]


def missing_transforms_message(missing: Sequence[str]) -> str:
    """Why a refresh hook needs the AMT transforms the pipeline lacks, and the two ways out."""
    return (f'{TRAIN_PIPELINE} has no {" and no ".join(missing)}: the attention maps it computes '
            f'would never reach the token masks. Add {" and ".join(missing)} to the pipeline (see '
            'configs/_base_/amt_mae_pipeline.py), or set '
            f'default_hooks.{REFRESH_HOOK_KEY}.enable=False to train without AMT')


def moved_to_mask_generator(arg: str) -> str:
    """The message for a guidance setting given to the refresh hook that the generator owns."""
    return (f'default_hooks.{REFRESH_HOOK_KEY}.{arg} has moved to '
            f'{TRAIN_PIPELINE}.{MASK_GENERATOR}.{arg}: the mask generator owns every guidance '
            f'setting (the hook records it with the bank); set {arg} there')


def build_mask_generator(cfg, upstream: bool = False):
    """The config's ``AMTMaskGenerator``, built (same ratios, grid and rounding as training), or
    None when the model masks itself (e.g. mmpretrain MAE).

    Args:
        cfg: The config.
        upstream (bool): Without an ``AMTMaskGenerator``, build the pipeline's last other mask
            generator (a type ending in ``MaskGenerator``, such as MaskFeat's
            ``BEiTMaskGenerator``). Defaults to False.
    """
    from mmpretrain.registry import TRANSFORMS
    t = mask_generator_cfg(cfg)
    if t is None and upstream:
        found = [
            t for pipeline in train_pipelines(cfg) for t in pipeline
            if isinstance(t, dict) and str(t.get('type', '')).endswith('MaskGenerator')
        ]
        t = found[-1] if found else None
    return None if t is None else TRANSFORMS.build(copy.deepcopy(t))


def train_dataset_cfg(cfg) -> dict:
    """The innermost dataset config of ``train_dataloader`` (through dataset wrappers).

    Raises:
        KeyError: If the config has no ``train_dataloader``.
    """
    if 'train_dataloader' not in cfg:
        raise KeyError('the config has no `train_dataloader` (the AMT pieces sit in its '
                       'pipeline)')
    dataset = cfg.train_dataloader.dataset
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset


def default_arg(type_name: str, arg: str) -> Any:
    """The default of ``arg`` in the registered mmamt class ``type_name``'s ``__init__``.

    Raises:
        KeyError: If the class is not registered (``import mmamt`` first) or has no such
            argument with a default.
    """
    from mmpretrain.registry import HOOKS, TRANSFORMS
    cls = HOOKS.get(type_name) or TRANSFORMS.get(type_name)
    if cls is None:
        raise KeyError(f'{type_name} is not registered; import mmamt first')
    param = inspect.signature(cls.__init__).parameters.get(arg)
    if param is None or param.default is inspect.Parameter.empty:
        raise KeyError(f'{type_name} has no argument {arg!r} with a default')
    return param.default


def refresh_arg(cfg, arg: str) -> Any:
    """An argument of the config's refresh hook, its class default when the config omits it.

    Raises:
        ValueError: If the config has no ``AttentionRefreshHook``.
    """
    hook = refresh_hook_cfg(cfg)
    if hook is None:
        raise ValueError(f'the config has no {REFRESH_HOOK} (default_hooks.{REFRESH_HOOK_KEY})')
    return hook[arg] if arg in hook else default_arg(REFRESH_HOOK, arg)


def check_amt_wiring(cfg) -> None:
    """Refuse a config whose AMT pieces do not come together, before anything is built.

    ``LoadAttentionMap`` without the refresh hook: no bank is ever attached, the maps stay
    uniform, AMT never starts and the run is plain random masking under an AMT config's name.
    The refresh hook without ``LoadAttentionMap`` and ``AMTMaskGenerator``: every refresh computes
    maps that nothing uses. Loss weights from the map (``loss_weight_temperature``) that
    ``PackInputs`` does not pack: the loss would silently ignore them. (``AMTMaskGenerator``
    alone is a plain random mask generator, as the SimMIM baselines use it.)

    Raises:
        ValueError: Naming the config keys that are missing or doubled.
    """
    where = TRAIN_PIPELINE
    hooks = cfg.get('default_hooks') or {}
    if REFRESH_HOOK_KEY in hooks and hooks[REFRESH_HOOK_KEY] is None:
        raise ValueError(f'default_hooks.{REFRESH_HOOK_KEY}=None: mmengine accepts None only '
                         f'for its own default hooks; turn the attention loop off with '
                         f'default_hooks = dict({REFRESH_HOOK_KEY}=dict(enable=False))')
    hook = refresh_hook_cfg(cfg)
    has = {name: bool(find_transforms(cfg, name)) for name in (MAP_LOADER, MASK_GENERATOR)}
    if has[MAP_LOADER] and hook is None:
        reason = (f'default_hooks.{REFRESH_HOOK_KEY}.enable is False' if refresh_hooks(cfg) else
                  f'the config has no {REFRESH_HOOK} (default_hooks.{REFRESH_HOOK_KEY})')
        raise ValueError(
            f'{where} has {MAP_LOADER} but {reason}: no attention map would ever be computed, so '
            'AMT would never start and the run would be plain random masking. Keep '
            f'default_hooks.{REFRESH_HOOK_KEY}=dict(type={REFRESH_HOOK!r}, ...) from the AMT '
            f'config, or, to train without AMT, drop {MAP_LOADER} and the AMT crop and flip '
            '(as the baseline configs do)')
    if hook is not None:
        missing = [name for name, present in has.items() if not present]
        if missing:
            raise ValueError(f'the config has an {REFRESH_HOOK} but ' +
                             missing_transforms_message(missing))
    for pipeline in train_pipelines(cfg):
        weighted = [
            t for t in pipeline if isinstance(t, dict) and t.get('type') == MASK_GENERATOR
            and t.get('loss_weight_temperature') is not None
        ]
        packs = [t for t in pipeline if isinstance(t, dict) and t.get('type') == 'PackInputs']
        if weighted and not all('patch_weight' in (p.get('algorithm_keys') or ()) for p in packs):
            raise ValueError(
                f'{TRAIN_PIPELINE}: {MASK_GENERATOR}.loss_weight_temperature is set but '
                "PackInputs does not pack the weights: use dict(type='PackInputs', "
                "algorithm_keys=['patch_weight']), or the loss would silently ignore the map")


def without_refresh_panels(cfg) -> None:
    """Switch the refresh hook's panels off in place (a measured run draws nothing)."""
    hook = refresh_hook_cfg(cfg)
    if hook is not None:
        hook['num_panels'] = 0
