"""Does it help? Pre-train named variants side by side and probe their frozen encoders.

Every variant trains with identical data, seeds and (scaled) schedule in its own process, then a
logistic-regression probe reads [CLS] and mean-patch features of its final encoder
(mmamt.analysis). One Markdown table (mean ± std over seeds, training GFLOPs per image with the
refreshes, wall time, encoder tokens per image) is printed; everything is in
WORK_DIR/summary.json. Finished runs are reused. ``--equal-compute NAME`` runs every other
variant for the epochs that compute what NAME computes in --epochs (mmamt.analysis.compute).

    python tools/analysis_tools/compare_pretrain.py data/synthetic/imagenet \
        --variant mae=configs/demo/mae_vit-tiny-p8_1xb32-20e_synthetic.py \
        --variant mae-amt=configs/demo/mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py \
        --variant amt-least=configs/demo/mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py \
            mask_generator.throw_mode=least \
        --variant amt-max=configs/demo/mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py \
            mask_generator.map_norm=max \
        --epochs 40 --seeds 0 1 2 --jobs 2 --work-dir work_dirs/compare_40e
"""
import argparse

from mmamt.analysis import RequestError, compare, parse_variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='class-folder data with train/ and val/')
    parser.add_argument(
        '--variant',
        nargs='+',
        action='append',
        required=True,
        metavar='NAME=CONFIG [KEY=VALUE ...]',
        help='a variant: its config, then overrides (cfg-options keys, '
        'mask_generator.<arg> for every AMTMaskGenerator, refresh_hook.<arg> '
        'for the AttentionRefreshHook); repeat per variant')
    parser.add_argument(
        '--epochs',
        type=int,
        required=True,
        help='epochs of every run (the config schedule is scaled to them)')
    parser.add_argument(
        '--equal-compute',
        metavar='NAME',
        help='this variant runs --epochs epochs, every other one the epochs whose training '
        'FLOPs (refreshes included) are nearest its')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time')
    parser.add_argument('--threads', type=int, default=1, help='torch threads per run')
    parser.add_argument('--work-dir', default='work_dirs/compare')
    parser.add_argument(
        '--keep-visualization',
        action='store_true',
        help="keep the refresh hook's panels after each refresh (num_panels)")
    parser.add_argument('--no-reuse', action='store_true', help='retrain finished runs')
    args = parser.parse_args()
    try:
        variants = [parse_variant(tokens) for tokens in args.variant]
    except ValueError as err:
        parser.error(str(err))
    try:
        # compare checks the whole request (RequestError) before any run starts
        out = compare(
            variants,
            args.data_root,
            args.work_dir,
            args.epochs,
            args.seeds,
            jobs=args.jobs,
            threads=args.threads,
            keep_visualization=args.keep_visualization,
            reuse=not args.no_reuse,
            equal_compute=args.equal_compute)
    except RequestError as err:
        parser.error(str(err))
    length = (f'equal compute ({args.equal_compute} at {args.epochs} epochs)'
              if args.equal_compute else f'{args.epochs} epochs')
    print(f'\n{length}, seeds {args.seeds}; top-1 of a logistic-regression probe on the frozen '
          'encoder (mean ± std over seeds)')
    print(out['table'])
    if out['attention_table']:
        print('\nAMT attention and token roles, first -> last refresh (mean over seeds)')
        print(out['attention_table'])
    print(f'\nsummary: {args.work_dir}/summary.json')


if __name__ == '__main__':
    main()
