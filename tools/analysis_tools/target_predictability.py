"""How much of a MIM target the neighbouring patches predict, on real images, before training.

For each target (MaskFeat's HOG at the settings given, MAE's normalised pixels), a ridge
regression predicts every patch's target from its four neighbours' on two thirds of the images
and is scored on the rest; R^2 is the share of the target's variance it explains (0: no better
than the mean, which an encoder reaches without learning anything). The logic lives in
:mod:`mmamt.analysis.target_stats`.

    python tools/analysis_tools/target_predictability.py data/digits/train --size 56 --patch 4 \
        --hog 2:4 --hog 4:8 [--images 400] [--json OUT]
"""
import argparse
import sys

from mmamt.analysis.compare import write_json
from mmamt.analysis.target_stats import load_images, neighbour_r2, norm_pixel_targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder', help='images (class folders or flat)')
    parser.add_argument('--size', type=int, default=56, help='image side in pixels')
    parser.add_argument('--patch', type=int, default=4, help='model patch side in pixels')
    parser.add_argument(
        '--hog',
        action='append',
        default=[],
        metavar='POOL:WINDOW',
        help="HOGGenerator's pool (cell side) and gaussian_window; repeat")
    parser.add_argument('--images', type=int, default=400)
    parser.add_argument('--json', help='write the rows here')
    args = parser.parse_args(argv)
    if args.size % args.patch or args.images < 3:
        parser.error(f'--size {args.size} must be a multiple of --patch {args.patch} and '
                     f'--images {args.images} at least 3')
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    try:
        x = load_images(args.folder, args.size, args.images)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    grid = args.size // args.patch
    rows = []
    for setting in args.hog:
        try:
            pool, window = (int(v) for v in setting.split(':'))
        except ValueError:
            parser.error(f'--hog {setting!r}: give POOL:WINDOW, e.g. 2:4')
        hog = MODELS.build(dict(type='HOGGenerator', nbins=9, pool=pool, gaussian_window=window))
        targets = hog(x)
        if targets.shape[1] != grid * grid:
            parser.error(f'--hog {setting}: HOG gives {targets.shape[1]} patches, the grid '
                         f'{grid}x{grid} has {grid * grid} (HOGGenerator cuts 14x14)')
        rows.append(
            dict(
                target=f'HOG pool {pool}, window {window}',
                dims=targets.shape[-1],
                **neighbour_r2(targets, grid)))
    targets = norm_pixel_targets(x, args.patch)
    rows.append(
        dict(target='normalised pixels', dims=targets.shape[-1], **neighbour_r2(targets, grid)))
    print(f'{len(x)} images of {args.folder} at {args.size} px, {grid}x{grid} patches')
    print('| target | dims | mean-predictor MSE | neighbour MSE | R^2 |')
    print('| --- | --- | --- | --- | --- |')
    for r in rows:
        print(f"| {r['target']} | {r['dims']} | {r['mean_mse']:.4f} | {r['mse']:.4f} | "
              f"{r['r2']:.3f} |")
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
