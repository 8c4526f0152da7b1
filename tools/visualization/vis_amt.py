"""Draw what AMT does to images: attention map, token mask and reconstruction.

For each image one PNG panel ``OUT/<stem>.png`` with four tiles side by side: (a) the image (the
deterministic view: full image resized to the model input), (b) the checkpoint's last-layer
[CLS] attention map over it, (c) the token mask that the config's ``AMTMaskGenerator`` draws
from that map (masked / thrown / visible, counts in the legend), (d) the reconstruction:
visible patches from the input, masked ones predicted by the model (norm_pix undone), thrown
ones grey. Tiles are the input size times the smallest integer factor giving >= 224 px, with a
44-px caption and legend strip under them (see ``mmamt/visualization/panel.py``).

    python tools/visualization/vis_amt.py CONFIG CHECKPOINT --out DIR \
        [--images FOLDER] [--num N] [--seed S] [--shuffle] [--bank BANK]

Works for MAE-AMT and SimMIM-AMT configs. Without ``--images`` the images are the first ``N``
(or, with ``--shuffle``, ``N`` seeded random ones) of the config's training set. The maps are
made as ``--bank`` (the run's ``work_dir/amt_bank/epoch_<e>.pth``) records, else as the config's
``AMTMaskGenerator.map_norm`` says.
"""
import argparse

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw AMT panels: attention, token mask, reconstruction')
    parser.add_argument('config', help='MAE-AMT or SimMIM-AMT training config')
    parser.add_argument('checkpoint', help='checkpoint of that config ("none": random init)')
    parser.add_argument('--out', required=True, help='folder for the PNG panels')
    parser.add_argument(
        '--images', help='folder of images (recursive); default: the '
        "config's training set")
    parser.add_argument('--num', type=int, default=8, help='number of images (default 8)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the token masks and of --shuffle (default 0)')
    parser.add_argument(
        '--shuffle', action='store_true', help='pick seeded random images instead of the first N')
    parser.add_argument('--device', help='default: cuda if available, else cpu')
    parser.add_argument(
        '--bank',
        help="the run's bank file (work_dir/amt_bank/epoch_<e>.pth): make the maps as it "
        "records; default: as the config's AMTMaskGenerator says")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=data/synthetic/imagenet')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmamt.visualization import write_panels
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    paths = write_panels(
        args.config,
        checkpoint,
        args.out,
        images=args.images,
        num=args.num,
        seed=args.seed,
        shuffle=args.shuffle,
        device=args.device,
        cfg_options=args.cfg_options,
        bank=args.bank)
    print(f'wrote {len(paths)} panels to {args.out}')


if __name__ == '__main__':
    main()
