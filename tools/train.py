"""Train a model from a config, as mmpretrain's tools/train.py (mmamt modules registered)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmamt  # noqa: F401  (registers mmamt modules, makes checkpoints resumable)
from mmamt.utils.dist import finish_distributed
from mmamt.utils.train_setup import setup_train_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model (mmamt)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the latest in work_dir')
    amp = parser.add_mutually_exclusive_group()
    amp.add_argument('--amp', action='store_true', help='automatic mixed precision')
    amp.add_argument(
        '--no-amp',
        action='store_true',
        help='train in fp32 although the config asks for AmpOptimWrapper '
        '(which needs a GPU), e.g. to check a config on a CPU')
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the actual batch size (auto_scale_lr)')
    parser.add_argument('--no-pin-memory', action='store_true')
    parser.add_argument('--no-persistent-workers', action='store_true')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to the config."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, got {optim_wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.no_amp and cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            cfg.optim_wrapper.pop(key, None)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    def set_loader(key: str, **kwargs) -> None:
        loader = cfg.get(key)
        if loader:
            for k, v in kwargs.items():
                if k != 'persistent_workers' or loader.get('num_workers', 0) > 0:
                    loader[k] = v

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if args.no_pin_memory:
            set_loader(key, pin_memory=False)
        if args.no_persistent_workers:
            set_loader(key, persistent_workers=False)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    # AMT pieces checked, CPU DDP, atomic checkpoints; --resume skips unreadable ones
    runner = Runner.from_cfg(setup_train_config(cfg))
    runner.train()
    finish_distributed()  # every rank leaves the process group in order


if __name__ == '__main__':
    main()
