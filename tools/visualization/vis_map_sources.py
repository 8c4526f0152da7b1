"""The maps of several map sources on the same images, from one checkpoint, in one PNG.

One row per image: the image, then each source's map over it as the refresh pass makes it
(the deterministic view, the config's ``AMTMaskGenerator.map_norm``), on the AMT panels' fixed
[0, 1] colour scale:

    python tools/visualization/vis_map_sources.py CONFIG CHECKPOINT --out sources.png \
        --images data/digits/val --num 6 \
        --source cls-last \
        --source patch-0 type=PatchAttentionMap layers=[0] \
        --source cls-all type=CLSAttentionMap layers=[0,1,2,3] \
        --source loss type=ReconstructionLossMap

Each ``--source TITLE [KEY=VALUE ...]`` is a column: its title, then the source as
``AttentionRefreshHook.map_source`` takes it (no keys: the last-layer [CLS] attention).
"""
import argparse

from mmengine.config import DictAction

from mmamt.analysis import load_config


def parse_source(tokens):
    """``['TITLE', 'type=X', 'layers=[0]']`` -> ``('TITLE', {'type': 'X', 'layers': [0]})``."""
    parser = argparse.ArgumentParser(prog=f'--source {tokens[0]}', add_help=False)
    parser.add_argument('options', nargs='*', action=DictAction)
    options = parser.parse_args(list(tokens[1:])).options
    return tokens[0], (dict(options) if options else None)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Maps of several sources on the same images')
    parser.add_argument('config', help='the AMT pre-training config of the checkpoint')
    parser.add_argument('checkpoint', help='its checkpoint ("none": random init)')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--images', required=True, help='folder of images (recursive)')
    parser.add_argument(
        '--source',
        nargs='+',
        action='append',
        required=True,
        metavar='TITLE [KEY=VALUE ...]',
        help='a column: its title, then the map source (type=..., its arguments)')
    parser.add_argument('--num', type=int, default=6, help='images (rows), default 6')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--shuffle', action='store_true', help='seeded random images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def main(argv=None) -> str:
    args = parse_args(argv)
    from mmamt.visualization import write_source_grid
    sources = dict(parse_source(tokens) for tokens in args.source)
    if len(sources) != len(args.source):
        raise SystemExit('--source titles must be unique')
    cfg = load_config(args.config, args.cfg_options)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    canvas = write_source_grid(
        args.out,
        cfg,
        checkpoint,
        sources,
        args.images,
        num=args.num,
        seed=args.seed,
        shuffle=args.shuffle)
    print(f'{len(sources)} sources x {args.num} images ({canvas.shape[1]}x{canvas.shape[0]} px) '
          f'-> {args.out}')
    return args.out


if __name__ == '__main__':
    main()
