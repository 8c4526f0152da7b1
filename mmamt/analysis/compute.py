"""What a whole pre-training run computes: training FLOPs, refreshes included, and the epochs
at which one variant costs what another does (the harness's ``--equal-compute``).

Per image of the training set, a run of ``E`` epochs computes

    3 * (f_amt * E_amt + f_random * (E - E_amt)) + f_refresh * R

GFLOPs: ``f_amt`` and ``f_random`` are the training forward per image with AMT's masks and
with the random masks before AMT starts (MAE's own masking for MAE), counted by mmengine's
``FlopAnalyzer`` on the model the config builds (:func:`~mmamt.analysis.training_gflops`);
``3 *`` counts the backward as two forwards, the usual convention (Kaplan et al. 2020); ``E_amt``
epochs mask with AMT and ``R`` refresh passes run the map source over every image
(``f_refresh``, forward only, the configured source at the full patch grid). One multiply-add
is one FLOP, mmengine's convention. Data loading and the optimizer step are not FLOPs counted
here; the measured wall time is reported beside them.
"""
from typing import Dict

import torch.nn as nn
from mmengine.config import Config

from mmamt.utils.amt_config import refresh_hook_cfg
from .bench import StepBench, has_attention_loop
from .flops import count_flops, training_gflops
from .variants import Variant, dry_run_config

#: A training step computes the forward once and the backward, about twice the forward.
STEP_FORWARDS = 3


class _MapForward(nn.Module):
    """The refresh pass's forward of a map source on a model, as a module of the images."""

    def __init__(self, model: nn.Module, source) -> None:
        super().__init__()
        self.model = model
        self.source = source

    def forward(self, x):
        return self.source.maps(self.model, x)


def forward_gflops(cfg: Config, n: int = 2) -> Dict[str, float]:
    """Forward GFLOPs per image of the config's model: its training step in each phase and,
    with an attention loop, the refresh pass of its map source.

    Returns:
        dict: ``random`` (the step before AMT starts, or MAE's step), ``amt`` (the step with
        AMT's masks; equal to ``random`` without an attention loop) and ``refresh`` (0.0
        without an attention loop).
    """
    from mmamt.models.utils import build_map_source
    out = {}
    phases = (False, True) if has_attention_loop(cfg) else (False, )
    for active in phases:
        bench = StepBench(cfg, batch_size=n, device='cpu', amt_active=active)
        out['amt' if active else 'random'] = training_gflops(bench.model, bench.data, n)
    out.setdefault('amt', out['random'])
    out['refresh'] = 0.0
    hook = refresh_hook_cfg(cfg)
    if hook is not None:
        model = bench.model.eval()
        inputs = model.data_preprocessor(
            dict(inputs=bench.data['inputs'], data_samples=None), False)['inputs']
        source = build_map_source(hook.get('map_source'))
        out['refresh'] = count_flops(_MapForward(model, source), (inputs, )) / n / 1e9
    return out


def run_gflops(cfg: Config, forward: Dict[str, float]) -> Dict[str, float]:
    """GFLOPs per training image of the config's whole run (see the module docstring).

    Args:
        cfg (Config): The run's config (its ``train_cfg.max_epochs`` and refresh schedule).
        forward (dict): :func:`forward_gflops` of its model.

    Returns:
        dict: ``epochs``, ``amt_epochs``, ``refreshes``, ``train`` (steps), ``refresh`` and
        ``total`` GFLOPs per image of the training set.
    """
    from .refresh_cost import refresh_schedule
    epochs = int(cfg.train_cfg.max_epochs)
    sched = refresh_schedule(cfg) if has_attention_loop(cfg) else dict(amt_epochs=0, refreshes=0)
    train = STEP_FORWARDS * (
        forward['amt'] * sched['amt_epochs'] + forward['random'] * (epochs - sched['amt_epochs']))
    refresh = forward['refresh'] * sched['refreshes']
    return dict(
        epochs=epochs,
        amt_epochs=int(sched['amt_epochs']),
        refreshes=int(sched['refreshes']),
        train=float(train),
        refresh=float(refresh),
        total=float(train + refresh))


def variant_gflops(variant: Variant,
                   data_root: str,
                   epochs: int,
                   forward: Dict[str, float] = None) -> Dict[str, float]:
    """:func:`run_gflops` of ``variant`` run for ``epochs`` as the harness runs it, with its
    ``forward`` GFLOPs per image (:func:`forward_gflops`, counted when not given)."""
    cfg = dry_run_config(variant, data_root, epochs)
    if forward is None:
        forward = forward_gflops(cfg)
    return dict(run_gflops(cfg, forward), forward=dict(forward))


def equal_compute_epochs(variant: Variant,
                         data_root: str,
                         budget: float,
                         forward: Dict[str, float] = None,
                         max_epochs: int = 100000) -> int:
    """The epochs at which ``variant``'s whole run computes closest to ``budget``.

    Args:
        variant (Variant): The variant, run as the harness runs it (schedule scaled).
        data_root (str): Its data (the run config needs it).
        budget (float): GFLOPs per training image to match (``total`` of
            :func:`variant_gflops` of the reference).
        forward (dict, optional): :func:`forward_gflops` of its model; counted when not given.
        max_epochs (int): Upper end of the search.

    Returns:
        int: Epochs >= 1 whose ``total`` is nearest ``budget`` (the shorter one on a tie).
    """
    if budget <= 0:
        raise ValueError(f'the FLOP budget must be > 0, got {budget}')
    if forward is None:
        forward = forward_gflops(dry_run_config(variant, data_root, 1))

    def total(epochs: int) -> float:
        return run_gflops(dry_run_config(variant, data_root, epochs), forward)['total']

    lo, hi = 1, 1  # the total grows with the epochs: bracket, then bisect
    while total(hi) < budget and hi < max_epochs:
        lo, hi = hi, min(2 * hi, max_epochs)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if total(mid) < budget:
            lo = mid
        else:
            hi = mid
    return min((lo, hi), key=lambda e: (abs(total(e) - budget), e))
