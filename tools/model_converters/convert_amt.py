"""Convert an MAE-AMT / SimMIM-AMT / MAE checkpoint for mmpretrain, mmdet, mmseg or timm.

Usage::

    python tools/model_converters/convert_amt.py IN OUT --to {mmpretrain,mmdet,mmseg,timm}

The architecture comes from the config the pre-training run stored in IN (``--config`` gives it
for checkpoints without one). It prints a key-coverage report and exits with status 1 when an
encoder weight is missing, left unused or of a wrong shape (documented new parameters such as
relative-position tables excepted). It exits with status 2 (refused) when IN is not a
checkpoint, holds no backbone or config, when OUT is IN (by any path or link), when OUT exists and
``--force`` is not given, or when the target's package (mmdet, mmseg) is not installed (the
message names the install command, ``make install-full``). OUT is only written (atomically) when
the conversion is complete.

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

from mmamt.downstream.convert import TARGETS, CheckpointConversionError, convert_checkpoint
from mmamt.downstream.keymap import KeyCoverageError


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert an MAE-AMT / SimMIM-AMT / MAE pre-training checkpoint for a '
        'downstream code base, accounting for every encoder weight.')
    parser.add_argument('src', metavar='IN', help='pre-training checkpoint')
    parser.add_argument('dst', metavar='OUT', help='converted checkpoint to write')
    parser.add_argument('--to', required=True, choices=TARGETS, help='target key scheme')
    parser.add_argument(
        '--config',
        help="pre-training config, for a checkpoint without meta['cfg'] (every "
        'mmengine Runner checkpoint has one)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing OUT')
    parser.add_argument(
        '--timm-model',
        help='timm model name to record for --to timm (default: chosen from '
        'the architecture, e.g. vit_base_patch16_224)')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load IN with the full unpickler (weights_only=False); trusted files only')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the conversion; return the exit status (0 done, 1 incomplete, 2 refused)."""
    args = parse_args(argv)
    try:
        result = convert_checkpoint(
            args.src,
            args.dst,
            args.to,
            cfg=args.config,
            timm_model=args.timm_model,
            unsafe_load=args.unsafe_load,
            force=args.force)
    except KeyCoverageError as err:
        print(err.coverage.format())
        print(
            f'error: {args.src} was not converted: some encoder weights are missing, unused '
            f'or of a wrong shape (see above); {args.dst} was not written',
            file=sys.stderr)
        return 1
    except CheckpointConversionError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(result.coverage.format())
    if args.to == 'timm':
        name, kwargs = result.info['timm_model'], result.info['timm_kwargs']
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
