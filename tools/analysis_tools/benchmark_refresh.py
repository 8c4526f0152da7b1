"""Share of a pre-training run that the attention refresh takes, from the config's schedule.

    python tools/analysis_tools/benchmark_refresh.py \
        configs/mae_amt/mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py --batch-size 8 \
        --device cpu --dataset-size 1281167
    # another map source: the refresh hook's map_source, e.g.
    #   --cfg-options default_hooks.amt_refresh.map_source.type=PatchAttentionMap \
    #       default_hooks.amt_refresh.map_source.layers=[0]
"""
import argparse

import torch
from mmengine.config import DictAction

from mmamt.analysis import StepBench, load_config, refresh_cost


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Attention refresh cost of a config')
    parser.add_argument('config', help='an AMT pre-training config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--dataset-size', type=int, default=1281167, help='images per epoch (default: ImageNet-1K)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='refresh under fp16 autocast')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--timer', choices=['wall', 'cpu'], default='wall')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    bench = StepBench(cfg, args.batch_size, args.device)
    out = refresh_cost(bench, cfg, args.dataset_size, args.warmup, args.reps, args.device,
                       args.timer, args.amp)
    print(f"refresh ({out['source']}): {out['refresh_img_per_s']:.2f} img/s (train "
          f"{out['train_img_per_s']:.2f} img/s), {out['refreshes']} refreshes x "
          f"{out['dataset_size']} images in {out['epochs']} epochs -> "
          f"{100 * out['share']:.2f}% of pre-training time")
    return out


if __name__ == '__main__':
    main()
