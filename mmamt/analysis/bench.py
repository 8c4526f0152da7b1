"""Timing and memory of pre-training steps, built from the configs that train them.

A :class:`StepBench` is one config's model with its optimizer wrapper and one fixed batch, as
the config's dataloader would hand it over: uint8 images and data samples whose token masks are
drawn by the config's own mask generator (``AMTMaskGenerator``: AMT counts when the config
refreshes attention maps, the random counts otherwise; upstream ones such as MaskFeat's
``BEiTMaskGenerator``; none for MAE-style models, which mask in the model).
:func:`round_robin` times several of them interleaved in one process, so that machine noise
hits them alike.
"""
import ctypes
import gc
import os
import platform
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmamt.utils.amt_config import build_mask_generator, refresh_hook_cfg
from mmamt.utils.model import build_model

PRECISIONS = ('fp32', 'fp16', 'bf16')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """A training config with ``--cfg-options`` merged, its registry scope set up."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def has_attention_loop(cfg: Config) -> bool:
    """Whether the config turns AMT on (refreshes attention maps) at some epoch."""
    return refresh_hook_cfg(cfg) is not None


def draw_masks(generator, batch_size: int, active: bool, size: int) -> List[np.ndarray]:
    """Token masks as the pipeline draws them (uniform weights: counts decide the cost)."""
    img = np.zeros((size, size, 3), dtype=np.uint8)
    return [
        np.asarray(generator.transform(dict(img=img, amt_active=active))['mask']).astype(np.int64)
        for _ in range(batch_size)
    ]


def token_counts(mask: Optional[np.ndarray],
                 num_patches: int,
                 random_ratio: float = 0.75) -> Dict[str, int]:
    """Visible / masked / thrown patches per image; without a mask, MAE's random masking."""
    if mask is None:
        n_vis = int(num_patches * (1 - random_ratio))  # MAEViT.random_masking
        return dict(visible=n_vis, masked=num_patches - n_vis, thrown=0)
    return dict(
        visible=int((mask == 0).sum()),
        masked=int((mask == 1).sum()),
        thrown=int((mask == -1).sum()))


def build_optim_wrapper(model: torch.nn.Module, precision: str) -> OptimWrapper:
    """AdamW (MAE's betas) in fp32, or under AMP with fp16 (dynamic loss scale) or bf16."""
    if precision not in PRECISIONS:
        raise ValueError(f'--precision {precision!r} must be one of {PRECISIONS}')
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05)
    if precision == 'fp32':
        return OptimWrapper(optimizer=optimizer)
    return AmpOptimWrapper(
        optimizer=optimizer,
        loss_scale='dynamic',
        dtype='float16' if precision == 'fp16' else 'bfloat16')


class StepBench:
    """One config's training step on a fixed batch.

    Args:
        cfg (Config): A pre-training config (``load_config``).
        batch_size (int): Images per step.
        device (str): 'cpu' or a CUDA device.
        precision (str): 'fp32', 'fp16' or 'bf16' (the last two need CUDA: mmengine's
            ``AmpOptimWrapper``). Defaults to 'fp32'.
        compile (bool): ``torch.compile`` the train step as mmengine's ``compile=True`` does.
            Defaults to False.
        amt_active (bool, optional): Draw the masks of AMT's phase (True) or of the random
            masking before it (False). Defaults to None: AMT's phase when the config refreshes
            attention maps.
    """

    def __init__(self,
                 cfg: Config,
                 batch_size: int,
                 device: str,
                 precision: str = 'fp32',
                 compile: bool = False,
                 amt_active: Optional[bool] = None) -> None:
        if precision != 'fp32' and not str(device).startswith('cuda'):
            raise ValueError(f'--precision {precision} needs --device cuda (mmengine AMP)')
        self.model = build_model(cfg).to(device).train()
        self.optim_wrapper = build_optim_wrapper(self.model, precision)
        self.train_step = self.model.train_step
        if compile:
            self.train_step = torch.compile(self.model.train_step)
        h, w = self.model.backbone.patch_embed.init_input_size
        generator = build_mask_generator(cfg, upstream=True)
        if amt_active is None:
            amt_active = has_attention_loop(cfg)
        masks = None if generator is None else draw_masks(generator, batch_size, amt_active, h)
        images = torch.randint(0, 256, (batch_size, 3, h, w), dtype=torch.uint8)
        if str(device).startswith('cuda'):
            images = images.pin_memory()  # as the configs' loaders (pin_memory=True) give it
        samples = []
        for i in range(batch_size):
            sample = DataSample()
            if masks is not None:
                sample.set_mask(torch.from_numpy(masks[i]))
            samples.append(sample)
        self.data = dict(inputs=images, data_samples=samples)
        num_patches = int(np.prod(self.model.backbone.patch_resolution))
        self.counts = token_counts(None if masks is None else masks[0], num_patches,
                                   getattr(self.model.backbone, 'mask_ratio', 0.75))

    def step(self) -> None:
        self.train_step(self.data, self.optim_wrapper)

    def state_bytes(self) -> int:
        """Parameters + persistent gradients + optimizer states (resident between steps)."""
        total = 0
        for p in self.model.parameters():
            total += p.numel() * p.element_size()
            if p.grad is not None:
                total += p.grad.numel() * p.grad.element_size()
        for state in self.optim_wrapper.optimizer.state.values():
            for v in state.values():
                if torch.is_tensor(v):
                    total += v.numel() * v.element_size()
        return total


def synchronize(device: str) -> None:
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def _proc_status_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


class PeakMemory:
    """Transient peak memory of one call, in bytes above the memory in use when it started.

    CUDA: ``max_memory_allocated`` above ``memory_allocated`` at the start. CPU: VmHWM (reset
    through ``/proc/self/clear_refs``) above VmRSS at the start, with glibc's mmap threshold
    pinned and ``malloc_trim`` before, so that freed tensors leave the RSS; where clear_refs
    is not writable, the RSS growth (a lower bound).

    Args:
        device (str): 'cpu' or a CUDA device.
    """

    M_MMAP_THRESHOLD = -3  # glibc mallopt parameter

    def __init__(self, device: str) -> None:
        self.device = str(device)
        self._libc = None
        self._hwm = False
        if self.device.startswith('cuda'):
            self.method = 'cuda: torch.cuda.max_memory_allocated - memory_allocated at step start'
            return
        try:
            self._libc = ctypes.CDLL('libc.so.6')
            # A fixed threshold also stops glibc from raising it after frees (up to 32 MiB).
            self._libc.mallopt(self.M_MMAP_THRESHOLD, 256 * 1024)
        except OSError:
            self._libc = None
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self.method = ('cpu: VmHWM (reset via /proc/self/clear_refs) - VmRSS at step start, '
                           'glibc mmap threshold 256 KiB + malloc_trim(0) before the step')
            self._hwm = True
        except OSError:
            self.method = ('cpu: VmRSS growth over the step (/proc/self/clear_refs not '
                           'writable; transient peaks are missed, a lower bound)')

    def start(self) -> None:
        gc.collect()
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return
        if self._libc is not None:
            self._libc.malloc_trim(0)
        if self._hwm:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        self._base = _proc_status_kb('VmRSS') * 1024

    def stop(self) -> int:
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()
            return int(torch.cuda.max_memory_allocated() - self._base)
        key = 'VmHWM' if self._hwm else 'VmRSS'
        return max(0, _proc_status_kb(key) * 1024 - self._base)


def round_robin(tasks: Dict[str, Callable[[], None]],
                warmup: int,
                reps: int,
                device: str,
                timer: str = 'wall') -> Tuple[Dict[str, List[float]], Dict[str, List[float]]]:
    """Seconds per call of every task, interleaved: one call of each per repetition.

    The order rotates every repetition so that no task always runs right after the same one.

    Args:
        tasks (dict): Name to a callable without arguments.
        warmup (int): Untimed repetitions first.
        reps (int): Timed repetitions.
        device (str): Synchronised around every call when it is a CUDA device.
        timer (str): 'wall' (``time.perf_counter``) or 'cpu' (``time.process_time``: CPU
            seconds of this process, all threads; robust to other load on a shared CPU when
            torch runs one thread). Defaults to 'wall'.

    Returns:
        tuple[dict, dict]: The times by the chosen timer and the wall times, ``{name: [s]}``.
    """
    clock = time.process_time if timer == 'cpu' else time.perf_counter
    names = list(tasks)
    times = {n: [] for n in names}
    walls = {n: [] for n in names}
    for rep in range(warmup + reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            synchronize(device)
            t0, w0 = clock(), time.perf_counter()
            tasks[name]()
            synchronize(device)
            if rep >= warmup:
                times[name].append(clock() - t0)
                walls[name].append(time.perf_counter() - w0)
    return times, walls


def machine_info(device: str) -> Dict:
    """What ran the benchmark: the device by name, the CPU, the software."""
    info = dict(
        device=str(device),
        torch=torch.__version__,
        python=platform.python_version(),
        torch_threads=torch.get_num_threads(),
        cpus=os.cpu_count(),
        loadavg_start=list(os.getloadavg()),
        cpu=platform.processor())
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if str(device).startswith('cuda'):
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(
            device_name=props.name,
            device_memory_gb=props.total_memory / 2**30,
            cuda=torch.version.cuda)
    else:
        info['device_name'] = f'CPU ({info["cpu"]})'
    return info


def paired_speedup(base: Sequence[float], other: Sequence[float]) -> float:
    """Median over repetitions of ``base / other`` step times measured in the same repetition."""
    return float(np.median([b / x for b, x in zip(base, other)]))
