"""What the attention refresh costs over a whole pre-training run."""
from typing import Dict

import torch
from mmengine.config import Config

from mmamt.engine.hooks import AttentionRefreshHook
from mmamt.engine.refresh import batch_maps
from mmamt.models.utils import build_map_source
from mmamt.utils.amt_config import mask_generator_arg, refresh_arg
from .bench import StepBench, round_robin


def refresh_schedule(cfg: Config) -> Dict[str, int]:
    """Epochs, start, interval and stop of the config's ``AttentionRefreshHook``, its refreshes
    and the epochs AMT masks (``amt_epochs``; the others mask at random).

    Raises:
        ValueError: If the config has no ``AttentionRefreshHook``.
    """
    epochs = int(cfg.train_cfg.max_epochs)
    hook = AttentionRefreshHook(
        **{arg: refresh_arg(cfg, arg)
           for arg in ('start_epoch', 'interval', 'stop_epoch')})
    end = epochs if hook.stop_epoch is None else min(epochs, hook.stop_epoch)
    return dict(
        epochs=epochs,
        start_epoch=hook.start_epoch,
        interval=hook.interval,
        stop_epoch=hook.stop_epoch,
        refreshes=len(hook.refresh_epochs(epochs)),
        amt_epochs=max(0, end - hook.start_epoch))


def refresh_share(refreshes: int, epochs: int, dataset_size: int, refresh_ips: float,
                  train_ips: float) -> float:
    """Share of the whole pre-training time spent in refresh passes."""
    refresh_s = refreshes * dataset_size / refresh_ips
    train_s = epochs * dataset_size / train_ips
    return refresh_s / (train_s + refresh_s)


def refresh_cost(bench: StepBench,
                 cfg: Config,
                 dataset_size: int,
                 warmup: int,
                 reps: int,
                 device: str,
                 timer: str = 'wall',
                 amp: bool = False) -> Dict:
    """Refresh img/s (the refresh pass's ``batch_maps``) against training img/s, interleaved.

    Args:
        bench (StepBench): The config's training step on its batch.
        cfg (Config): The config (for the refresh schedule and the generator's ``map_norm``).
        dataset_size (int): Images per epoch.
        warmup (int): Untimed repetitions.
        reps (int): Timed repetitions.
        device (str): Where the model runs.
        timer (str): 'wall' or 'cpu' (see ``round_robin``). Defaults to 'wall'.
        amp (bool): Refresh under fp16 autocast, as AMP configs run it. Defaults to False.

    Returns:
        dict: img/s of both, the schedule, the share of the whole run (an upper bound: the
        pre-AMT epochs run at the slower baseline speed) and ``source``, the record of the
        config's map source that was timed (``AttentionRefreshHook.map_source``).
    """
    batch = bench.data['inputs'].shape[0]
    inputs = bench.model.data_preprocessor(
        dict(inputs=bench.data['inputs'], data_samples=None), False)['inputs']
    map_norm = mask_generator_arg(cfg, 'map_norm')
    source = build_map_source(refresh_arg(cfg, 'map_source'))

    def refresh() -> None:  # what the refresh pass runs per batch (eval mode, no grad)
        batch_maps(bench.model, inputs, map_norm, amp=amp, amp_dtype=torch.float16, source=source)

    times, _ = round_robin(dict(train=bench.step, refresh=refresh), warmup, reps, device, timer)
    sched = refresh_schedule(cfg)
    ips = {k: batch * reps / sum(v) for k, v in times.items()}
    return dict(
        sched,
        dataset_size=dataset_size,
        refresh_img_per_s=ips['refresh'],
        train_img_per_s=ips['train'],
        batch_size=batch,
        source=source.record(),
        share=refresh_share(sched['refreshes'], sched['epochs'], dataset_size, ips['refresh'],
                            ips['train']))
