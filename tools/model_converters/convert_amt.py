"""Convert an MAE-AMT / SimMIM-AMT / MAE checkpoint for mmpretrain, mmdet, mmseg or timm.

Usage::

    python tools/model_converters/convert_amt.py IN OUT --to {mmpretrain,mmdet,mmseg,timm}

It prints a key-coverage report and exits with status 1 when an encoder weight is missing, left
unused or of a wrong shape (documented new parameters such as relative-position tables excepted),
and with status 2 when IN is not a checkpoint, holds no backbone or its architecture cannot be
determined. OUT is only written (atomically) when the conversion is complete.

Where the outputs go:

- ``--to mmpretrain``: ``checkpoint`` of ``configs/benchmarks/mmpretrain/*`` (linear probe,
  fine-tune; the backbone ``init_cfg`` reads it with ``prefix='backbone.'``).
- ``--to mmdet``: ``checkpoint`` of mmamt's ``ViTDetBackbone`` (``configs/benchmarks/mmdet``).
- ``--to mmseg``: ``pretrained`` of ``configs/benchmarks/mmseg/*`` (backbone ``MAEStrict``).
- ``--to timm``: ``timm.create_model(<printed name>, num_classes=0).load_state_dict(
  torch.load(OUT), strict=True)``.
"""
import argparse
import sys
from typing import List, Optional

from mmamt.downstream.convert import (TARGETS, CheckpointConversionError, KeyCoverageError,
                                      convert_checkpoint)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert an MAE-AMT / SimMIM-AMT / MAE pre-training checkpoint for a '
        'downstream code base, accounting for every encoder weight.')
    parser.add_argument('src', metavar='IN', help='pre-training checkpoint')
    parser.add_argument('dst', metavar='OUT', help='converted checkpoint to write')
    parser.add_argument('--to', required=True, choices=TARGETS, help='target key scheme')
    parser.add_argument(
        '--arch',
        help='mmpretrain VisionTransformer arch name (base, large, huge, ...) when the '
        "checkpoint's meta holds no config")
    parser.add_argument('--num-heads', type=int, help='attention heads (override)')
    parser.add_argument('--img-size', type=int, help='pre-training image size (override)')
    parser.add_argument('--patch-size', type=int, help='patch size (override)')
    parser.add_argument(
        '--timm-model', help='timm model name to record for --to timm (default: chosen from '
        'the architecture, e.g. vit_base_patch16_224)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--unsafe-load', action='store_true',
        help='load IN with the full unpickler (weights_only=False); trusted files only')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the conversion; return the exit status (0 done, 1 incomplete, 2 refused)."""
    args = parse_args(argv)
    try:
        result = convert_checkpoint(
            args.src, args.dst, args.to, arch=args.arch, num_heads=args.num_heads,
            img_size=args.img_size, patch_size=args.patch_size, timm_model=args.timm_model,
            progress=not args.no_progress, unsafe_load=args.unsafe_load)
    except KeyCoverageError as err:
        print(err.report.format())
        print(f'error: {args.src} was not converted: some encoder weights are missing, unused '
              f'or of a wrong shape (see above); {args.dst} was not written', file=sys.stderr)
        return 1
    except CheckpointConversionError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(result.report.format())
    if args.to == 'timm':
        name = result.info['timm_model']
        kwargs = result.info['timm_kwargs']
        if name is None:
            print('timm: no registered model has these sizes; build '
                  f'timm.models.vision_transformer.VisionTransformer(**{kwargs})')
        else:
            extra = ', init_values=1.0' if 'init_values' in kwargs else ''
            print(f"timm: timm.create_model('{name}', num_classes=0{extra})")
    print(f'saved {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
