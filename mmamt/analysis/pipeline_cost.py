"""CPU cost per sample of two configs' training pipelines (e.g. MAE-AMT's vs MAE's).

Both pipelines run on the same in-memory decoded images, interleaved per image, in thread CPU
time with one torch thread, as in a dataloader worker. ``LoadImageFromFile`` is left out and a
JPEG decode of each source image is timed on its own; a pipeline that reads attention maps
(``LoadAttentionMap``) gets an active bank of random maps, so its AMT path is the one timed.
"""
import copy
import statistics
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmpretrain.registry import TRANSFORMS

from mmamt.datasets import AttentionBank
from mmamt.utils.amt_config import mask_generator_cfg


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


def train_pipeline(cfg: Config, num_samples: int) -> Tuple[Compose, object]:
    """The config's training transforms after loading, with an active bank where needed.

    Returns:
        tuple: The composed transforms and the bank (None without ``LoadAttentionMap``), which
        must stay alive while the pipeline runs.
    """
    pipeline = cfg.train_dataloader.dataset.get('pipeline')
    if pipeline is None:
        raise ValueError('train_dataloader.dataset.pipeline is missing from the config')
    transforms, bank = [], None
    for t in pipeline:
        if t['type'] == 'LoadImageFromFile':
            continue
        built = TRANSFORMS.build(copy.deepcopy(t))
        if t['type'] == 'LoadAttentionMap':
            gen = TRANSFORMS.build(copy.deepcopy(mask_generator_cfg(cfg)))
            grid = gen.input_size // gen.model_patch_size
            bank = AttentionBank(num_samples, (grid, grid))
            g = torch.Generator().manual_seed(0)
            bank.update(torch.arange(num_samples), torch.rand(num_samples, grid, grid, generator=g))
            bank.mark_refreshed(1)
            built.attach(bank)
        transforms.append(built)
    return Compose(transforms), bank


def run_sample(pipeline: Compose, img: np.ndarray, idx: int, seed: int,
               per_transform: Dict[str, float]) -> float:
    """Thread CPU seconds of one sample, each transform's added to ``per_transform``.

    The global numpy RNG is re-seeded (untimed) so that both pipelines draw the very same crop
    and flip: the crop size drives the resize cost, so the comparison must be paired.
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


def pipeline_cost(cfg: Config,
                  baseline_cfg: Config,
                  num_images: int = 256,
                  reps: int = 5,
                  source_wh: Tuple[int, int] = (500, 375),
                  seed: int = 0) -> Dict:
    """Per-sample cost of ``cfg``'s pipeline against ``baseline_cfg``'s, plus a JPEG decode.

    Args:
        cfg (Config): The config measured (e.g. MAE-AMT).
        baseline_cfg (Config): The config it is compared with (e.g. MAE).
        num_images (int): Source images. Defaults to 256.
        reps (int): Timed passes over them (one untimed first). Defaults to 5.
        source_wh (tuple[int, int]): Source image size. Defaults to (500, 375).
        seed (int): Images and views. Defaults to 0.

    Returns:
        dict: ms per sample of each, the paired ``overhead`` (median of config / baseline - 1)
        and ``overhead_with_decode``, and microseconds per transform.
    """
    import cv2
    import mmcv
    width, height = source_wh
    images = natural_like_images(num_images, width, height, seed=seed)
    jpegs = [
        cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for img in images
    ]
    pipelines = {
        'config': train_pipeline(cfg, num_images),
        'baseline': train_pipeline(baseline_cfg, num_images)
    }
    names = ('baseline', 'config', 'decode')
    per_tf = {'baseline': {}, 'config': {}}
    times = {n: [] for n in names}
    threads = torch.get_num_threads()
    # Dataloader workers run one torch thread; with more, PackInputs' permute-copy spins
    # OpenMP threads and costs 100x on a busy CPU.
    torch.set_num_threads(1)
    try:
        for rep in range(1 + reps):
            totals = dict.fromkeys(names, 0.0)
            scratch = {'baseline': {}, 'config': {}}
            for i, img in enumerate(images):
                order = names if (rep + i) % 2 == 0 else names[::-1]
                for name in order:
                    if name == 'decode':
                        t0 = time.thread_time()
                        mmcv.imfrombytes(jpegs[i], flag='color', backend='cv2')
                        totals[name] += time.thread_time() - t0
                    else:
                        totals[name] += run_sample(pipelines[name][0], img, i,
                                                   (seed + rep) * 1000003 + i, scratch[name])
            if rep >= 1:
                for name in names:
                    times[name].append(totals[name] / len(images))
                for name, d in scratch.items():
                    for key, v in d.items():
                        per_tf[name][key] = per_tf[name].get(key, 0.0) + v
    finally:
        torch.set_num_threads(threads)
    base_s, cfg_s, dec_s = (statistics.median(times[n]) for n in names)
    paired = [c / b - 1 for c, b in zip(times['config'], times['baseline'])]
    return dict(
        images=num_images,
        source_wh=[width, height],
        reps=reps,
        baseline_ms_per_sample=base_s * 1e3,
        config_ms_per_sample=cfg_s * 1e3,
        decode_ms_per_sample=dec_s * 1e3,
        overhead=statistics.median(paired),
        overhead_per_rep=paired,
        overhead_with_decode=(cfg_s - base_s) / (base_s + dec_s),
        per_transform_us={
            name: {
                k: v / (reps * num_images) * 1e6
                for k, v in d.items()
            }
            for name, d in per_tf.items()
        })
