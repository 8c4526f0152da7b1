"""Measure what AMT's throwing saves: step time, memory and FLOPs of MAE / SimMIM with and without.

All variants live in ONE process and are timed round-robin (one step of each per repetition,
the order rotated every repetition), so machine noise hits them alike. For every variant:

* ``step_time_s``: one training step (``model.train_step``: data preprocessor, forward, backward,
  optimizer step), median over the timed repetitions after warm-up; ``img_per_s`` from it.
  Wall clock by default; ``--timer cpu`` takes the CPU time of the process instead, which with
  ``--threads 1`` is immune to other processes on a shared CPU (wall times are kept as well).
* ``peak_mem_mb``: what the variant would hold alone, i.e. its resident training state
  (parameters + optimizer states) plus the transient peak of one step (activations, gradients,
  temporaries). CUDA: ``torch.cuda.max_memory_allocated`` above ``memory_allocated`` at step
  start. CPU: VmHWM (reset with ``echo 5 > /proc/self/clear_refs``) above VmRSS at step start,
  with glibc's mmap threshold pinned and ``malloc_trim`` before the step so that freed tensors
  leave the RSS; where clear_refs is not writable, RSS growth over the step (a lower bound).
  The memory steps are extra steps after the timed ones, so probing never slows a timed step.
* ``gflops``: forward GFLOPs per image of the training forward (``model.loss`` with a fixed
  mask) from mmengine's ``FlopAnalyzer`` (one multiply-add = one FLOP, mmengine's convention),
  with a handle for ``scaled_dot_product_attention``, which mmengine does not count.
* ``speedup_vs_baseline`` (median over repetitions of the paired ratio baseline step time /
  variant step time, both measured in the same repetition) and ``flops_ratio`` (variant /
  baseline GFLOPs). Baselines: mmpretrain MAE for the MAE variants, SimMIM-ViT for SimMIM.

Variants: mmpretrain's own MAE (``MAE``/``MAEViT``/``MAEPretrainDecoder``, 0.75 random masking);
MAE-AMT (``MAEAMT``, 0.45 masked / 0.40 thrown, token masks with the exact counts of
``AMTMaskGenerator``); SimMIM-ViT (``SimMIMAMT`` fed 0.44 of the 32-px mask patches masked,
nothing thrown) and SimMIM-AMT (0.44 / 0.26).

Also measured: the attention refresh pass (``backbone.attention_map`` images/s, timed in the
same round-robin, and its share of a whole pre-training run), a check that the refresh never
forms the N x N attention of the last block, and the data pipeline's cost per sample with and
without the AMT transforms on in-memory decoded images.

    # a shared CPU: one thread, CPU time (docs/benchmarks.md)
    python tools/analysis_tools/benchmark_pretrain.py --arch b --img-size 224 --batch-size 8 \
        --device cpu --threads 1 --timer cpu --warmup 1 --reps 5 --json work_dirs/bench_vitb.json
    # a GPU, as the configs train (fp16 AMP)
    python tools/analysis_tools/benchmark_pretrain.py --arch b --batch-size 128 --device cuda \
        --amp --json work_dirs/bench_vitb_cuda.json
"""
import argparse
import ctypes
import gc
import json
import logging
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape
from mmengine.dataset import Compose
from mmengine.logging import MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.models import VisionTransformer
from mmpretrain.registry import MODELS, TRANSFORMS
from mmpretrain.structures import DataSample
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import mmamt  # noqa: F401  (registers the AMT modules and transforms)
from mmamt.datasets import AttentionBank
from mmamt.datasets.transforms import AMTMaskGenerator
from mmamt.models.utils import cls_attention_probs, normalize_attention

VARIANTS = ('MAE', 'MAE-AMT', 'SimMIM-ViT', 'SimMIM-AMT')
BASELINE = {'MAE': 'MAE', 'MAE-AMT': 'MAE', 'SimMIM-ViT': 'SimMIM-ViT',
            'SimMIM-AMT': 'SimMIM-ViT'}
REFRESH_TASKS = {'refresh-MAE': 'MAE-AMT', 'refresh-SimMIM': 'SimMIM-AMT'}
PATCH = 16
SIMMIM_MASK_PATCH = 32
# A ViT small enough for unit tests; any mmpretrain arch name or dict works too.
TINY_ARCH = dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128)
DATA_PREPROCESSOR = dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
# The targets of the issue (ViT-B/16, 224 px).
TARGETS = dict(mae_amt_speedup=1.5, simmim_amt_speedup=1.25, refresh_share=0.03,
               pipeline_overhead=0.10)


# --------------------------------------------------------------------------------------------
# models and their inputs
# --------------------------------------------------------------------------------------------
def encoder_arch(arch: str):
    """The ``arch`` argument of mmpretrain's ViT for ``--arch``."""
    return dict(TINY_ARCH) if arch == 'tiny' else arch


def embed_dims_of(arch: str) -> int:
    arch = encoder_arch(arch)
    if isinstance(arch, dict):
        return arch['embed_dims']
    if arch not in VisionTransformer.arch_zoo:
        raise ValueError(f'--arch {arch!r} is not a mmpretrain ViT arch '
                         f'({sorted(VisionTransformer.arch_zoo)}) nor "tiny"')
    return VisionTransformer.arch_zoo[arch]['embed_dims']


def model_cfg(name: str, arch: str, img_size: int) -> dict:
    """Model config of one variant, as the configs in ``configs/`` build it."""
    if img_size % SIMMIM_MASK_PATCH:
        raise ValueError(f'--img-size {img_size} must be divisible by {SIMMIM_MASK_PATCH} (the '
                         'SimMIM mask patch)')
    dims = embed_dims_of(arch)
    if name in ('MAE', 'MAE-AMT'):
        amt = name == 'MAE-AMT'
        decoder = (dict(decoder_embed_dim=32, decoder_depth=2, decoder_num_heads=4)
                   if arch == 'tiny' else
                   dict(decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16))
        return dict(
            type='MAEAMT' if amt else 'MAE',
            data_preprocessor=DATA_PREPROCESSOR,
            backbone=dict(type='AMTMAEViT' if amt else 'MAEViT', arch=encoder_arch(arch),
                          img_size=img_size, patch_size=PATCH, mask_ratio=0.75),
            neck=dict(type='AMTMAEPretrainDecoder' if amt else 'MAEPretrainDecoder',
                      num_patches=(img_size // PATCH)**2, patch_size=PATCH, in_chans=3,
                      embed_dim=dims, mlp_ratio=4., **decoder),
            head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=PATCH,
                      loss=dict(type='PixelReconstructionLoss', criterion='L2')))
    if name in ('SimMIM-ViT', 'SimMIM-AMT'):
        return dict(
            type='SimMIMAMT',
            data_preprocessor=DATA_PREPROCESSOR,
            backbone=dict(type='AMTSimMIMViT', arch=encoder_arch(arch), img_size=img_size,
                          patch_size=PATCH, drop_path_rate=0.1, layer_scale_init_value=0.1),
            neck=dict(type='AMTSimMIMLinearDecoder', in_channels=dims, encoder_stride=PATCH),
            head=dict(type='MAEPretrainHead', norm_pix=False, patch_size=PATCH,
                      loss=dict(type='PixelReconstructionLoss', criterion='L1')))
    raise ValueError(f'unknown variant {name!r}; choose from {VARIANTS}')


def mask_generator(name: str, img_size: int) -> Optional[AMTMaskGenerator]:
    """The mask generator of the variant's training pipeline (None: MAE masks in the model)."""
    if name == 'MAE-AMT':
        return AMTMaskGenerator(input_size=img_size, mask_patch_size=PATCH,
                                model_patch_size=PATCH, mask_ratio=0.45, throw_ratio=0.40,
                                random_mask_ratio=0.75, rounding='floor')
    if name in ('SimMIM-ViT', 'SimMIM-AMT'):
        return AMTMaskGenerator(input_size=img_size, mask_patch_size=SIMMIM_MASK_PATCH,
                                model_patch_size=PATCH, mask_ratio=0.44, throw_ratio=0.26,
                                random_mask_ratio=0.44, rounding='ceil')
    return None


def make_masks(name: str, img_size: int, batch_size: int) -> Optional[List[np.ndarray]]:
    """Token masks with the exact per-sample counts of the variant, at the model patch grid.

    Counts, not positions, decide the cost, so uniform weights are used. SimMIM-ViT draws the
    generator's random (pre-AMT) counts: 44% masked, nothing thrown.
    """
    gen = mask_generator(name, img_size)
    if gen is None:
        return None
    counts = gen.random_counts if name == 'SimMIM-ViT' else gen.amt_counts
    masks = []
    for _ in range(batch_size):
        mask = gen.draw(np.ones(gen.num_patches), *counts)
        if gen.scale > 1:
            mask = mask.repeat(gen.scale, axis=0).repeat(gen.scale, axis=1)
        masks.append(mask)
    return masks


def token_counts(name: str, img_size: int) -> Dict[str, int]:
    """Visible / masked / thrown patches per image (model patches)."""
    L = (img_size // PATCH)**2
    masks = make_masks(name, img_size, 1)
    if masks is None:
        n_vis = int(L * (1 - 0.75))  # MAEViT.random_masking
        return dict(visible=n_vis, masked=L - n_vis, thrown=0)
    m = masks[0]
    return dict(visible=int((m == 0).sum()), masked=int((m == 1).sum()),
                thrown=int((m == -1).sum()))


def data_samples(masks: Optional[List[np.ndarray]], batch_size: int) -> List[DataSample]:
    samples = []
    for i in range(batch_size):
        s = DataSample()
        if masks is not None:
            s.set_mask(torch.from_numpy(masks[i]))
        samples.append(s)
    return samples


class Variant:
    """One model with its optimizer wrapper and a fixed batch (uint8 images + masks)."""

    def __init__(self, name: str, args, images: torch.Tensor) -> None:
        self.name = name
        self.model = MODELS.build(model_cfg(name, args.arch, args.img_size))
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # init_weights logs every parameter at INFO
        try:
            self.model.init_weights()
        finally:
            logger.setLevel(level)
        self.model.to(args.device).train()
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4, betas=(0.9, 0.95),
                                      weight_decay=0.05)
        if args.amp:
            self.optim_wrapper = AmpOptimWrapper(optimizer=optimizer, loss_scale='dynamic')
        else:
            self.optim_wrapper = OptimWrapper(optimizer=optimizer)
        self.masks = make_masks(name, args.img_size, args.batch_size)
        self.data = dict(inputs=images, data_samples=data_samples(self.masks, args.batch_size))
        self.counts = token_counts(name, args.img_size)

    def step(self) -> None:
        self.model.train_step(self.data, self.optim_wrapper)

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


# --------------------------------------------------------------------------------------------
# timing and memory
# --------------------------------------------------------------------------------------------
def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def _proc_status_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


class PeakMemory:
    """Transient peak memory of one call, in bytes above the memory in use when it started.

    Args:
        device (str): 'cpu' or a CUDA device.
    """

    M_MMAP_THRESHOLD = -3  # glibc mallopt parameter

    def __init__(self, device: str) -> None:
        self.device = device
        self._libc = None
        if device.startswith('cuda'):
            self.method = 'cuda: torch.cuda.max_memory_allocated - memory_allocated at step start'
            return
        try:
            self._libc = ctypes.CDLL('libc.so.6')
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
            self._hwm = False

    def pin_allocator(self) -> None:
        """Make glibc return large freed blocks to the OS, so RSS follows the tensors alive."""
        if self._libc is not None:
            # A fixed threshold also stops glibc from raising it after frees (up to 32 MiB).
            self._libc.mallopt(self.M_MMAP_THRESHOLD, 256 * 1024)

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


def round_robin(tasks: Dict[str, Callable[[], None]], warmup: int, reps: int, device: str,
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


# --------------------------------------------------------------------------------------------
# FLOPs and the N x N check
# --------------------------------------------------------------------------------------------
def sdpa_flop_jit(inputs: List, outputs: List) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention``: Q K^T and A V, one per multiply-add."""
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = int(np.prod(q[:-2]))
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def count_flops(module: nn.Module, inputs: Tuple) -> int:
    """Forward FLOPs of ``module(*inputs)`` (mmengine FlopAnalyzer + the SDPA handle)."""
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    return int(analyzer.total())


class TrainingForward(nn.Module):
    """``model.loss`` on fixed data samples as a module of the images alone (for tracing)."""

    def __init__(self, model: nn.Module, samples: List[DataSample]) -> None:
        super().__init__()
        self.model = model
        self.samples = samples

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model.loss(inputs, self.samples)['loss']


class CLSAttentionPath(nn.Module):
    """What the refresh computes in the last block: the CLS row only, normalised."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return normalize_attention(cls_attention_probs(self.layer, tokens))


def variant_gflops(variant: Variant, args) -> float:
    """Forward GFLOPs per image of the variant's training forward (batch of 2, fixed mask)."""
    n = 2
    model = variant.model
    inputs = torch.randn(n, 3, args.img_size, args.img_size, device=args.device)
    samples = [s.to(args.device) for s in variant.data['data_samples'][:n]]
    was_training = model.training
    model.eval()  # no drop-path randomness while tracing; FLOPs are the same
    try:
        flops = count_flops(TrainingForward(model, samples), (inputs,))
    finally:
        model.train(was_training)
    return flops / n / 1e9


class ShapeRecorder(TorchDispatchMode):
    """Records the shape of every activation (a tensor with the leading batch dim) ops return.

    Args:
        batch (int): The batch size; outputs without it in front (weight slices and
            transposes) are not activations and are left out.
    """

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.batch = batch
        self.records: List[Tuple[str, Tuple[int, ...]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.dim() and t.shape[0] == self.batch:
                self.records.append((str(func), tuple(t.shape)))
        return out

    def largest(self) -> Tuple[str, Tuple[int, ...], int]:
        op, shape = max(self.records, key=lambda r: int(np.prod(r[1])))
        return op, shape, int(np.prod(shape))

    def square(self, n: int) -> List[Tuple[str, Tuple[int, ...]]]:
        """Outputs whose last two dims are ``n x n`` (an attention matrix over n tokens)."""
        return [r for r in self.records if len(r[1]) >= 2 and r[1][-2:] == (n, n)]


@torch.no_grad()
def check_refresh_attention(backbone: nn.Module, img_size: int, device: str) -> Dict:
    """Show that the refresh never forms the N x N attention of the last block.

    Records every intermediate of the last block's CLS path (and of the whole
    ``attention_map`` pass) with a torch dispatch mode, and compares the FLOPs of the CLS path
    with those of the full last block.
    """
    was_training = backbone.training
    backbone.eval()
    batch = 2
    x = torch.randn(batch, 3, img_size, img_size, device=device)
    try:
        tokens = backbone.embed_all_tokens(x)
        for layer in backbone.layers[:-1]:
            tokens = layer(tokens)
        n_tokens = tokens.shape[1]
        last = backbone.layers[-1]
        with ShapeRecorder(batch) as rec_cls:
            CLSAttentionPath(last)(tokens)
        with ShapeRecorder(batch) as rec_pass:
            backbone.attention_map(x)
        cls_flops = count_flops(CLSAttentionPath(last), (tokens,))
        full_flops = count_flops(last, (tokens,))
        # What a materialised attention of the last block would be: (B, heads, N, N).
        heads = last.attn.num_heads
    finally:
        backbone.train(was_training)
    op, shape, numel = rec_cls.largest()
    pop, pshape, pnumel = rec_pass.largest()
    return dict(
        tokens=n_tokens,
        last_block_nxn_outputs=len(rec_cls.square(n_tokens)),
        last_block_largest_intermediate=dict(op=op, shape=list(shape), numel=numel),
        full_attention_numel=batch * heads * n_tokens * n_tokens,
        whole_pass_nxn_outputs=len(rec_pass.square(n_tokens)),
        whole_pass_largest_intermediate=dict(op=pop, shape=list(pshape), numel=pnumel),
        last_block_cls_gflops=cls_flops / batch / 1e9,
        last_block_full_gflops=full_flops / batch / 1e9,
        last_block_flops_ratio=cls_flops / max(full_flops, 1),
        forms_nxn=bool(rec_cls.square(n_tokens)))


# --------------------------------------------------------------------------------------------
# data pipeline
# --------------------------------------------------------------------------------------------
def natural_like_images(n: int, width: int, height: int, seed: int = 0) -> List[np.ndarray]:
    """Smooth random BGR uint8 images (low-frequency noise plus grain; JPEG-like content)."""
    import cv2
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        low = rng.uniform(0, 255, size=(height // 25 + 2, width // 25 + 2, 3)).astype(np.float32)
        img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
        img += rng.normal(0, 8, size=img.shape).astype(np.float32)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    return images


def build_pipelines(img_size: int, num_samples: int) -> Tuple[Compose, Compose, AttentionBank]:
    """MAE's training transforms and MAE-AMT's, the latter reading an active bank."""
    crop = dict(scale=img_size, crop_ratio_range=(0.2, 1.0), backend='pillow',
                interpolation='bicubic')
    mae = Compose([
        TRANSFORMS.build(dict(type='RandomResizedCrop', **crop)),
        TRANSFORMS.build(dict(type='RandomFlip', prob=0.5)),
        TRANSFORMS.build(dict(type='PackInputs')),
    ])
    grid = img_size // PATCH
    bank = AttentionBank(num_samples, (grid, grid))
    g = torch.Generator().manual_seed(0)
    bank.update(torch.arange(num_samples), torch.rand(num_samples, grid, grid, generator=g))
    bank.mark_refreshed(40)
    load = TRANSFORMS.build(dict(type='LoadAttentionMap'))
    load.attach(bank)
    amt = Compose([
        load,
        TRANSFORMS.build(dict(type='AMTRandomResizedCrop', **crop)),
        TRANSFORMS.build(dict(type='AMTRandomFlip', prob=0.5)),
        mask_generator('MAE-AMT', img_size),
        TRANSFORMS.build(dict(type='PackInputs')),
    ])
    return mae, amt, bank


def run_sample(pipeline: Compose, img: np.ndarray, idx: int, seed: int,
               per_transform: Dict[str, float]) -> float:
    """CPU seconds of this thread for one sample, each transform timed on its own (added to
    ``per_transform``).

    Thread CPU time, not wall time: other processes on a shared machine then cost (almost)
    nothing, and a dataloader worker's throughput is set by its CPU time per sample. The global
    numpy RNG is re-seeded (untimed) so that both pipelines draw the very same crop and flip:
    the crop size drives the resize cost, so the comparison must be paired.
    """
    np.random.seed(seed % 2**32)
    results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], sample_idx=idx)
    total = 0.0
    for t in pipeline.transforms:
        t0 = time.thread_time()
        results = t(results)
        dt = time.thread_time() - t0
        total += dt
        key = type(t).__name__
        per_transform[key] = per_transform.get(key, 0.0) + dt
    return total


def bench_pipeline(args) -> Dict:
    """Per-sample cost of MAE's transforms vs MAE-AMT's, interleaved per image, plus decode."""
    import cv2
    width, height = args.pipeline_source
    images = natural_like_images(args.pipeline_images, width, height, seed=args.seed)
    jpegs = [cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
             for img in images]
    # The bank must outlive the pipeline run: LoadAttentionMap reads it.
    mae, amt, _bank = build_pipelines(args.img_size, len(images))
    # Dataloader workers run the pipeline with one torch thread (torch sets it in each worker);
    # with more, PackInputs' permute-copy spins OpenMP threads and costs 100x on a busy CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _bench_pipeline(args, images, jpegs, mae, amt, width, height)
    finally:
        torch.set_num_threads(threads)


def _bench_pipeline(args, images, jpegs, mae, amt, width, height) -> Dict:
    import mmcv

    def decode(buf: bytes) -> float:
        t0 = time.thread_time()
        mmcv.imfrombytes(buf, flag='color', backend='cv2')  # LoadImageFromFile's default
        return time.thread_time() - t0

    names = ('MAE', 'MAE-AMT', 'decode')
    per_tf = {'MAE': {}, 'MAE-AMT': {}}
    times = {n: [] for n in names}
    for rep in range(1 + args.pipeline_reps):  # one warm-up pass
        totals = dict.fromkeys(names, 0.0)
        scratch = {'MAE': {}, 'MAE-AMT': {}}
        # Interleaved per image, order alternating, so noise bursts hit both pipelines.
        for i, img in enumerate(images):
            seed = (args.seed + rep) * 1000003 + i
            order = names if (rep + i) % 2 == 0 else names[::-1]
            for name in order:
                if name == 'decode':
                    totals[name] += decode(jpegs[i])
                else:
                    totals[name] += run_sample(mae if name == 'MAE' else amt, img, i, seed,
                                               scratch[name])
        if rep >= 1:
            for name in names:
                times[name].append(totals[name] / len(images))
            for name, d in scratch.items():
                for key, v in d.items():
                    per_tf[name][key] = per_tf[name].get(key, 0.0) + v
    n_passes = args.pipeline_reps * len(images)
    mae_s = statistics.median(times['MAE'])
    amt_s = statistics.median(times['MAE-AMT'])
    dec_s = statistics.median(times['decode'])
    paired = [a / m - 1 for a, m in zip(times['MAE-AMT'], times['MAE'])]
    return dict(
        images=len(images), source_wh=[width, height], reps=args.pipeline_reps,
        mae_ms_per_sample=mae_s * 1e3,
        amt_ms_per_sample=amt_s * 1e3,
        decode_ms_per_sample=dec_s * 1e3,
        overhead=statistics.median(paired),
        overhead_per_rep=paired,
        overhead_with_decode=(amt_s - mae_s) / (mae_s + dec_s),
        per_transform_us={name: {k: v / n_passes * 1e6 for k, v in d.items()}
                          for name, d in per_tf.items()},
        note=('transforms on in-memory decoded images; MAE: RandomResizedCrop(0.2-1, pillow '
              'bicubic) + RandomFlip + PackInputs; MAE-AMT: LoadAttentionMap (active bank) + '
              'AMTRandomResizedCrop + AMTRandomFlip + AMTMaskGenerator(0.45/0.40) + PackInputs. '
              'Thread CPU time (time.thread_time) with one torch thread, as in a dataloader '
              'worker; crops and flips re-seeded per image so both pipelines draw the same '
              'views. overhead = median paired AMT/MAE - 1; '
              'overhead_with_decode adds a cv2 JPEG decode (quality 90) of the source image to the '
              'MAE cost.'))


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def machine_info(device: str) -> Dict:
    cpu = platform.processor() or 'unknown'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = dict(cpu=cpu, logical_cpus=os.cpu_count(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(), python=platform.python_version(),
                loadavg_start=list(os.getloadavg()))
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def refresh_share(refreshes: int, epochs: int, dataset_size: int, refresh_ips: float,
                  train_ips: float) -> float:
    """Share of the whole pre-training time spent in refresh passes."""
    refresh_s = refreshes * dataset_size / refresh_ips
    train_s = epochs * dataset_size / train_ips
    return refresh_s / (train_s + refresh_s)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='b',
                        help='mmpretrain ViT arch (s, b, l, ...; note mmpretrain\'s "s" is '
                        '768-wide, 8 deep) or "tiny" for tests. Defaults to b.')
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument('--amp', action='store_true',
                        help='fp16 AmpOptimWrapper for the training steps (CUDA only, as the '
                        'configs train); the refresh runs under the same autocast, as the hook '
                        'does')
    parser.add_argument('--warmup', type=int, default=2, help='untimed repetitions')
    parser.add_argument('--reps', type=int, default=5, help='timed repetitions')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--timer', choices=['wall', 'cpu'], default='wall',
                        help='wall clock, or CPU time of the process (CPU only; with '
                        '--threads 1 it is immune to other load on a shared machine). '
                        'Defaults to wall.')
    parser.add_argument('--refresh-batch-size', type=int, default=None,
                        help='batch of the refresh pass. Defaults to --batch-size.')
    parser.add_argument('--dataset-size', type=int, default=1281167)
    parser.add_argument('--mae-epochs', type=int, default=400)
    parser.add_argument('--simmim-epochs', type=int, default=200)
    parser.add_argument('--start-epoch', type=int, default=40)
    parser.add_argument('--interval', type=int, default=40)
    parser.add_argument('--pipeline-images', type=int, default=256)
    parser.add_argument('--pipeline-reps', type=int, default=5)
    parser.add_argument('--pipeline-source', type=int, nargs=2, default=(500, 375),
                        metavar=('W', 'H'), help='size of the source images. Defaults to 500 375.')
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None, help='write the results here')
    args = parser.parse_args(argv)
    if args.amp and not args.device.startswith('cuda'):
        parser.error('--amp needs --device cuda')
    for key in ('batch_size', 'reps', 'pipeline_images', 'pipeline_reps'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be >= 1')
    if args.timer == 'cpu' and args.device.startswith('cuda'):
        parser.error('--timer cpu measures CPU work; use --timer wall with --device cuda')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    return args


def format_table(results: Dict) -> str:
    lines = []
    s = results['settings']
    m = results['machine']
    lines.append(f"arch={s['arch']} img={s['img_size']} batch={s['batch_size']} "
                 f"device={s['device']} amp={s['amp']} warmup={s['warmup']} reps={s['reps']} "
                 f"timer={s['timer'].split(' ')[0]} | "
                 f"{m.get('gpu', m['cpu'])}, torch {m['torch']}, {m['torch_threads']} threads")
    head = (f"{'variant':<11} {'tokens enc/dec':>14} {'step s':>8} {'img/s':>8} {'peak MB':>9} "
            f"{'GFLOPs':>8} {'speedup':>8} {'FLOPs x':>8}")
    lines += [head, '-' * len(head)]
    for name, v in results['variants'].items():
        tok = f"{v['encoder_tokens']}/{v['decoder_tokens'] or '-'}"
        lines.append(f"{name:<11} {tok:>14} {v['step_time_s']:>8.3f} {v['img_per_s']:>8.2f} "
                     f"{v['peak_mem_mb']:>9.1f} {v['gflops']:>8.2f} "
                     f"{v['speedup_vs_baseline']:>7.2f}x {v['flops_ratio']:>8.3f}")
    r = results['refresh']
    for key in ('MAE', 'SimMIM'):
        d = r[key]
        lines.append(f"refresh {key:<7}: {d['img_per_s']:.2f} img/s, {d['refreshes']} refreshes "
                     f"x {d['dataset_size']} img in {d['epochs']} epochs -> "
                     f"{100 * d['share']:.2f}% of pre-training time")
    c = r['nxn_check']
    lines.append(f"refresh last block: N={c['tokens']}, N x N outputs={c['last_block_nxn_outputs']}"
                 f", largest intermediate {c['last_block_largest_intermediate']['shape']} "
                 f"({c['last_block_largest_intermediate']['numel']} vs full attention "
                 f"{c['full_attention_numel']}), FLOPs {c['last_block_flops_ratio']:.3f}x of the "
                 f"full block")
    if 'pipeline' in results:
        p = results['pipeline']
        lines.append(f"pipeline: MAE {p['mae_ms_per_sample']:.3f} ms/sample, MAE-AMT "
                     f"{p['amt_ms_per_sample']:.3f} ms/sample ({100 * p['overhead']:+.1f}%; "
                     f"{100 * p['overhead_with_decode']:+.1f}% with a "
                     f"{p['decode_ms_per_sample']:.3f} ms JPEG decode)")
    for key, t in results['targets'].items():
        lines.append(f"target {key}: {t['value']:.3f} vs {t['target']} -> "
                     f"{'met' if t['met'] else 'MISSED'}")
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    """Run the benchmark; returns (and optionally writes) the results dict."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = args.device
    refresh_bs = args.refresh_batch_size or args.batch_size

    images = torch.randint(0, 256, (args.batch_size, 3, args.img_size, args.img_size),
                           dtype=torch.uint8, device=device)
    variants = {name: Variant(name, args, images) for name in VARIANTS}

    # The refresh as AttentionRefreshHook runs it: normalised full images, no grad, eval mode.
    refresh_inputs = torch.randn(refresh_bs, 3, args.img_size, args.img_size, device=device)

    def refresh_task(variant: Variant) -> Callable[[], None]:
        backbone = variant.model.backbone

        def run() -> None:
            backbone.eval()
            # AttentionRefreshHook runs the pass under the training's autocast (AMP configs).
            with torch.autocast(device_type=torch.device(device).type, dtype=torch.float16,
                                enabled=args.amp):
                backbone.attention_map(refresh_inputs)
            backbone.train()
        return run

    tasks = {name: v.step for name, v in variants.items()}
    tasks.update({t: refresh_task(variants[v]) for t, v in REFRESH_TASKS.items()})
    times, walls = round_robin(tasks, args.warmup, args.reps, device, args.timer)

    # Memory: one extra probed call of each task, after the timed ones.
    mem = PeakMemory(device)
    mem.pin_allocator()
    transient = {}
    for name, fn in tasks.items():
        mem.start()
        fn()
        transient[name] = mem.stop()

    results = dict(machine=machine_info(device), settings=dict(
        arch=args.arch, img_size=args.img_size, batch_size=args.batch_size, device=device,
        amp=args.amp, warmup=args.warmup, reps=args.reps, refresh_batch_size=refresh_bs,
        timer=('wall clock (perf_counter)' if args.timer == 'wall' else
               'CPU time of the process (process_time)'),
        seed=args.seed, interleaved='round-robin, order rotated each repetition',
        memory_method=mem.method,
        flops='forward GFLOPs per image, mmengine FlopAnalyzer (1 multiply-add = 1 FLOP) + SDPA '
        'handle'), variants={})
    for name, v in variants.items():
        base = BASELINE[name]
        t = times[name]
        step = statistics.median(t)
        counts = v.counts
        if name.startswith('MAE'):
            enc, dec = 1 + counts['visible'], 1 + counts['visible'] + counts['masked']
        else:
            enc, dec = 1 + counts['visible'] + counts['masked'], None
        results['variants'][name] = dict(
            baseline=base,
            step_time_s=step,
            step_times_s=t,
            wall_times_s=walls[name],
            img_per_s=args.batch_size / step,
            peak_mem_mb=(v.state_bytes() + transient[name]) / 2**20,
            state_mem_mb=v.state_bytes() / 2**20,
            transient_mem_mb=transient[name] / 2**20,
            gflops=variant_gflops(v, args),
            tokens=counts, encoder_tokens=enc, decoder_tokens=dec)
    for name, r in results['variants'].items():
        base = results['variants'][r['baseline']]
        r['speedup_vs_baseline'] = statistics.median(
            b / x for b, x in zip(base['step_times_s'], r['step_times_s']))
        r['flops_ratio'] = r['gflops'] / base['gflops']

    refresh = {}
    for key, task, variant, epochs in (('MAE', 'refresh-MAE', 'MAE-AMT', args.mae_epochs),
                                       ('SimMIM', 'refresh-SimMIM', 'SimMIM-AMT',
                                        args.simmim_epochs)):
        ips = refresh_bs / statistics.median(times[task])
        train_ips = results['variants'][variant]['img_per_s']
        n_ref = len(range(args.start_epoch, epochs, args.interval))
        refresh[key] = dict(
            img_per_s=ips, step_times_s=times[task], batch_size=refresh_bs,
            transient_mem_mb=transient[task] / 2**20, refreshes=n_ref, epochs=epochs,
            dataset_size=args.dataset_size, train_img_per_s=train_ips, train_variant=variant,
            share=refresh_share(n_ref, epochs, args.dataset_size, ips, train_ips))
    refresh['nxn_check'] = check_refresh_attention(variants['MAE-AMT'].model.backbone,
                                                   args.img_size, device)
    refresh['note'] = ('model time only: attention_map on normalised batches (no data loading);'
                       ' share = refreshes * dataset / refresh img/s over epochs * dataset / '
                       'AMT-variant train img/s + that (the pre-AMT epochs run at the slower '
                       'baseline speed, so this share is an upper bound)')
    results['refresh'] = refresh

    if not args.skip_pipeline:
        results['pipeline'] = bench_pipeline(args)

    targets = {
        'MAE-AMT speedup vs MAE': (results['variants']['MAE-AMT']['speedup_vs_baseline'],
                                   TARGETS['mae_amt_speedup'], '>='),
        'SimMIM-AMT speedup vs SimMIM-ViT': (
            results['variants']['SimMIM-AMT']['speedup_vs_baseline'],
            TARGETS['simmim_amt_speedup'], '>='),
        'refresh share (MAE schedule)': (refresh['MAE']['share'], TARGETS['refresh_share'], '<='),
        'refresh share (SimMIM schedule)': (refresh['SimMIM']['share'],
                                            TARGETS['refresh_share'], '<='),
    }
    if 'pipeline' in results:
        targets['AMT transforms overhead'] = (results['pipeline']['overhead'],
                                              TARGETS['pipeline_overhead'], '<=')
    results['targets'] = {
        k: dict(value=v, target=f'{op} {t}', met=bool(v >= t if op == '>=' else v <= t))
        for k, (v, t, op) in targets.items()}
    results['machine']['loadavg_end'] = list(os.getloadavg())

    print(format_table(results))
    if args.json:
        folder = osp.dirname(osp.abspath(args.json))
        os.makedirs(folder, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
        print(f'results written to {args.json}')
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
