"""The report of a comparison: mean and spread per variant, and the tables the tool prints."""
from typing import Dict, List, Optional, Sequence

import numpy as np


def mean_spread(values: Sequence[float]) -> Dict:
    """``mean``, ``std`` (ddof 1; 0 for one value), ``min``, ``max`` and the ``values``."""
    values = [float(v) for v in values]
    return dict(
        mean=float(np.mean(values)),
        std=float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        min=min(values),
        max=max(values),
        values=values)


def summarize(results: Sequence[Dict],
              random: Optional[Sequence[Dict]] = None,
              gflops: Optional[Dict[str, Dict]] = None) -> Dict:
    """Mean and spread per variant of every measured quantity.

    Args:
        results (Sequence[dict]): Run results (:func:`~mmamt.analysis.compare.run_one`).
        random (Sequence[dict], optional): Probe results of random encoders.
        gflops (dict, optional): Per variant name, what its run computes
            (:func:`~mmamt.analysis.compute.variant_gflops`).

    Returns:
        dict: ``{'variants': {name: {...}}, 'random': {...} | None, 'majority_baseline': %}``;
        per variant ``seeds``, ``top1_cls``, ``top1_mean``, ``top1_both`` (the mean of the
        two per seed), ``seconds_per_epoch``, ``total_seconds`` (whole runs, when recorded),
        ``final_loss`` (each ``{mean, std, min, max, values}``), ``encoder_tokens``,
        ``epochs`` and ``gflops`` (or None); ``random`` has ``top1_cls`` and ``top1_mean``.
    """
    grouped: Dict[str, List[Dict]] = {}
    for r in results:
        grouped.setdefault(r['variant']['name'], []).append(r)
    variants = {}
    for name, runs in grouped.items():
        top1 = [r['probe']['top1'] for r in runs]
        variants[name] = dict(
            config=runs[0]['variant']['config'],
            options=runs[0]['variant']['options'],
            epochs=runs[0]['epochs'],
            seeds=[r['seed'] for r in runs],
            top1_cls=mean_spread([t['cls'] for t in top1]),
            top1_mean=mean_spread([t['mean'] for t in top1]),
            top1_both=mean_spread([(t['cls'] + t['mean']) / 2 for t in top1]),
            seconds_per_epoch=mean_spread([r['seconds_per_epoch'] for r in runs]),
            total_seconds=mean_spread([r['total_seconds']
                                       for r in runs]) if all('total_seconds' in r
                                                              for r in runs) else None,
            final_loss=mean_spread([r['final_loss'] for r in runs]),
            encoder_tokens=float(np.mean([r['encoder_tokens'] for r in runs])),
            last_epoch_tokens=float(np.mean([r['epoch_tokens'][-1] for r in runs])),
            gflops=(gflops or {}).get(name))
    out = dict(variants=variants, random=None, majority_baseline=None)
    if results:
        out['majority_baseline'] = results[0]['probe']['majority_baseline']
    if random:
        out['random'] = dict(
            top1_cls=mean_spread([r['top1']['cls'] for r in random]),
            top1_mean=mean_spread([r['top1']['mean'] for r in random]))
        out['majority_baseline'] = random[0]['majority_baseline']
    return out


def _fmt(stat: Dict, digits: int = 1) -> str:
    if len(stat['values']) > 1:
        return f'{stat["mean"]:.{digits}f} ± {stat["std"]:.{digits}f}'
    return f'{stat["mean"]:.{digits}f}'


def format_table(summary: Dict) -> str:
    """The summary as a Markdown table (mean ± sample std over seeds).

    ``train GFLOPs/img`` is the whole run's per training image (refreshes included), with its
    ratio to the first variant's; ``run min`` the measured wall time of a whole run (runs that
    share cores slow each other: compare it between runs made side by side).
    """
    lines = [
        '| variant | seeds | epochs | [CLS] top-1 % | mean-patch top-1 % | mean of both | '
        'train GFLOPs/img | run min | s/epoch | encoder tokens/img (last epoch) | final loss |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    first = next(iter(summary['variants'].values()), {}).get('gflops')
    for name, v in summary['variants'].items():
        g = v.get('gflops')
        compute = '-' if g is None else f'{g["total"]:.3g}'
        if g is not None and first:
            compute += f' ({g["total"] / first["total"]:.2f}x)'
        minutes = '-' if not v.get('total_seconds') else _fmt(
            mean_spread([s / 60 for s in v['total_seconds']['values']]))
        lines.append(f'| {name} | {len(v["seeds"])} | {v["epochs"]} | {_fmt(v["top1_cls"])} | '
                     f'{_fmt(v["top1_mean"])} | {_fmt(v["top1_both"])} | {compute} | '
                     f'{minutes} | {_fmt(v["seconds_per_epoch"], 2)} | '
                     f'{v["encoder_tokens"]:.1f} ({v["last_epoch_tokens"]:.1f}) | '
                     f'{_fmt(v["final_loss"], 3)} |')
    if summary.get('random'):
        r = summary['random']
        lines.append(f'| random init | {len(r["top1_cls"]["values"])} | - | '
                     f'{_fmt(r["top1_cls"])} | {_fmt(r["top1_mean"])} | - | - | - | - | - | - |')
    if summary.get('majority_baseline') is not None:
        m = summary['majority_baseline']
        lines.append(f'| majority class | - | - | {m:.1f} | {m:.1f} | - | - | - | - | - | - |')
    return '\n'.join(lines)


def format_attention_table(results: Sequence[Dict]) -> str:
    """Where the attention and the token roles fall, per AMT variant (mean over seeds).

    Each cell is ``first refresh -> last refresh``. ``attention on objects`` is the attention's
    object share over the objects' area share (1x = blind to objects); ``visible`` / ``masked``
    / ``thrown`` are the object shares of the patches in each role, next to the object area.
    Empty when no run has object masks (:func:`mmamt.analysis.object_mask_path`).
    """
    grouped: Dict[str, List[List[Dict]]] = {}
    for r in results:
        if r.get('attention') and r['attention'][0].get('ratio') is not None:
            grouped.setdefault(r['variant']['name'], []).append(r['attention'])
    if not grouped:
        return ''
    lines = [
        '| variant | refreshes (epochs) | attention on objects (x area) | map entropy | '
        'object area | visible on object | masked on object | thrown on object |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    for name, runs in grouped.items():

        def ends(key, pct=True):
            first = np.nanmean(
                [float(a[0][key]) if a[0].get(key) is not None else np.nan for a in runs])
            last = np.nanmean(
                [float(a[-1][key]) if a[-1].get(key) is not None else np.nan for a in runs])
            f = (lambda v: f'{100 * v:.0f}%') if pct else (lambda v: f'{v:.2f}')
            return f'{f(first)} -> {f(last)}'

        epochs = [a['epoch'] for a in runs[0]]
        lines.append(f'| {name} | {len(epochs)} ({epochs[0]}..{epochs[-1]}) | '
                     f'{ends("ratio", False)} | {ends("entropy", False)} | '
                     f'{100 * float(runs[0][0]["area_share"]):.0f}% | {ends("visible_object")} | '
                     f'{ends("masked_object")} | {ends("thrown_object")} |')
    return '\n'.join(lines)
