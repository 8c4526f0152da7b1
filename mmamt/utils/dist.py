"""Distributed training without GPUs (gloo), for mmengine 0.10.7's ``pytorch`` launcher."""
import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> Config:
    """Let ``launcher='pytorch'`` run on CPUs.

    mmengine 0.10.7 calls ``torch.cuda.set_device`` while initialising and wraps the model with
    ``device_ids=[LOCAL_RANK]``; both fail without a GPU. On a machine without CUDA this starts
    the gloo process group from torchrun's environment itself and wraps with ``device_ids=None``.
    With CUDA, or without a launcher, the config is returned unchanged.

    Args:
        cfg (Config): The training config (``launcher`` already set).

    Returns:
        Config: The same config, adjusted in place.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return cfg
    if cfg.launcher != 'pytorch':
        raise ValueError(f'launcher={cfg.launcher!r} needs GPUs; on CPUs use --launcher pytorch '
                         '(tools/dist_train.sh)')
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return cfg


def finish_distributed() -> None:
    """Close the process group once every rank has finished, before the interpreter exits.

    Left to the interpreter's exit, gloo's process group is torn down while its worker threads
    may still wait on a peer that already left; a rank then aborts with ``terminate called
    without an active exception`` (SIGABRT) after a run that finished. A barrier followed by
    ``destroy_process_group`` closes it in order. Without a process group this does nothing.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
