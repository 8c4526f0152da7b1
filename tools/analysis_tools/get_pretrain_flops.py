"""Forward FLOPs per image of a pre-training config's training forward (masked, as trained).

mmpretrain's ``get_flops.py`` counts a full-image forward; this counts what a training step
computes: the encoder on the tokens the config keeps, the decoder, the head. Masks are drawn by
the config's own ``AMTMaskGenerator`` (AMT counts when the config refreshes attention maps).

    python tools/analysis_tools/get_pretrain_flops.py \
        configs/mae_amt/mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py
"""
import argparse

from mmengine.config import DictAction

from mmamt.analysis import StepBench, load_config, training_gflops


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Training-forward FLOPs of a config')
    parser.add_argument('config', help='pre-training config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    bench = StepBench(load_config(args.config, args.cfg_options), batch_size=2, device='cpu')
    out = dict(
        config=args.config,
        gflops_per_image=training_gflops(bench.model, bench.data),
        tokens=bench.counts)
    print(f"{args.config}: {out['gflops_per_image']:.3f} GFLOPs/image (forward, one "
          f"multiply-add = one FLOP), patches visible/masked/thrown "
          f"{out['tokens']['visible']}/{out['tokens']['masked']}/{out['tokens']['thrown']}")
    return out


if __name__ == '__main__':
    main()
