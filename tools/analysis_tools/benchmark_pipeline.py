"""CPU cost per sample of a config's training pipeline against a baseline config's.

    python tools/analysis_tools/benchmark_pipeline.py \
        configs/mae_amt/mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py \
        --baseline configs/mae_amt/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py
"""
import argparse

from mmengine.config import DictAction

from mmamt.analysis import load_config, pipeline_cost


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Data pipeline cost per sample')
    parser.add_argument('config', help='the config measured (e.g. MAE-AMT)')
    parser.add_argument('--baseline', required=True, help='the config compared with')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--images', type=int, default=256, help='source images')
    parser.add_argument('--reps', type=int, default=5, help='timed passes')
    parser.add_argument(
        '--source', type=int, nargs=2, default=(500, 375), help='source image width height')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = pipeline_cost(
        load_config(args.config, args.cfg_options), load_config(args.baseline, args.cfg_options),
        args.images, args.reps, tuple(args.source), args.seed)
    print(f"pipeline: baseline {out['baseline_ms_per_sample']:.3f} ms/sample, config "
          f"{out['config_ms_per_sample']:.3f} ms/sample ({100 * out['overhead']:+.1f}%; "
          f"{100 * out['overhead_with_decode']:+.1f}% with a "
          f"{out['decode_ms_per_sample']:.3f} ms JPEG decode)")
    return out


if __name__ == '__main__':
    main()
