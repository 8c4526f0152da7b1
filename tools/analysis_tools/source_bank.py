"""The attention bank a map source gives a checkpoint, written like a run's refresh bank.

The refresh pass of ``AttentionRefreshHook`` run once over the config's training set with the
checkpoint's weights and the given ``map_source`` (default: the last-layer [CLS] attention), so
that every source can be compared on the same encoder with ``attention_stats.py``:

    python tools/analysis_tools/source_bank.py CONFIG CHECKPOINT OUT_DIR \
        [--source type=PatchAttentionMap layers=[0]] [--batch-size 64]
    python tools/analysis_tools/attention_stats.py OUT_DIR --config CONFIG

The bank is written atomically to ``OUT_DIR/epoch_<e>.pth`` (``<e>`` from a checkpoint named
``epoch_<e>.pth``, else 0).
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from mmamt.analysis import load_config
from mmamt.analysis.attention_stats import epoch_of
from mmamt.analysis.source_bank import source_bank


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='The bank of a map source from a checkpoint')
    parser.add_argument('config', help='the run\'s AMT pre-training config')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('out_dir', help='where epoch_<e>.pth is written')
    parser.add_argument(
        '--source',
        nargs='+',
        action=DictAction,
        help='the map source as AttentionRefreshHook.map_source takes it, e.g. '
        'type=CLSAttentionMap layers=[0,1,2,3]; default: the last-layer [CLS] attention')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def main(argv=None) -> str:
    """Write the bank; return its path."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    epoch = max(epoch_of(args.checkpoint), 0)
    bank = source_bank(cfg, args.checkpoint, args.source, epoch, args.batch_size)
    path = osp.join(args.out_dir, f'epoch_{epoch}.pth')
    bank.save(path)
    print(f'{len(bank)} maps of {bank.made_with["maps"]["source"]} written to {path}')
    return path


if __name__ == '__main__':
    main()
