"""How the AMT attention maps evolve over the refreshes of a run.

One line per refresh bank (``work_dir/amt_bank/epoch_<e>.pth``, written by
``AttentionRefreshHook``): the mean normalised entropy of the maps (1 = uniform) and, where object
masks exist, the share of attention mass on object pixels next to the objects' area share
(``ratio`` > 1: the attention prefers objects). Masks: ``--seg-dir DIR/<stem>.png`` (nonzero =
object), or by default the synthetic set's ADE label maps
(``<root>/ade/annotations/training/<stem>.png`` for ``<root>/imagenet/train/<class>/<stem>.png``).
``sample_idx`` is mapped to its image through the config's training set (built without pipeline).

    python tools/analysis_tools/attention_stats.py WORK_DIR_OR_BANK_FILES... --config CONFIG \
        [--seg-dir DIR] [--json OUT]

The logic lives in :mod:`mmamt.analysis.attention_stats` (``bank_report``, ``object_share``).
A missing, truncated or foreign bank file ends the tool with status 2 and a one-line ``error:``
message naming it.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction

from mmamt.analysis.attention_stats import bank_report, find_bank_files, format_report
from mmamt.utils import UnreadableFileError
from mmamt.utils.amt_config import train_dataset_cfg


def training_image_paths(cfg: Config) -> List[str]:
    """``img_path`` of every ``sample_idx`` of the config's training set (no pipeline run)."""
    from mmpretrain.registry import DATASETS

    from mmamt.utils import config_scope
    dataset_cfg = copy.deepcopy(train_dataset_cfg(cfg))
    dataset_cfg.pipeline = []
    with config_scope(cfg):
        dataset = DATASETS.build(dataset_cfg)
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Entropy and object share of AMT attention banks')
    parser.add_argument('banks', nargs='+', help='work dirs, amt_bank folders or bank files')
    parser.add_argument(
        '--config',
        help='the run\'s config (maps sample_idx to images); '
        'without it only the entropy is reported')
    parser.add_argument(
        '--seg-dir',
        help='folder of <stem>.png object masks (nonzero = object); '
        'default: the synthetic ADE label maps next to the images')
    parser.add_argument('--json', help='also write the records to this JSON file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def main(argv=None) -> List[Dict]:
    """Print the report of the banks (and write ``--json``); return its records.

    Exits with status 2 and a one-line message when a bank file is missing or unreadable.
    """
    args = parse_args(argv)
    img_paths: Optional[List[str]] = None
    if args.config:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        img_paths = training_image_paths(cfg)
    try:
        records = bank_report(find_bank_files(args.banks), img_paths, args.seg_dir)
    except (FileNotFoundError, UnreadableFileError) as err:  # a wrong path, not a bug: no traceback
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    print(format_report(records))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(records, f, indent=2)
        print(f'records written to {args.json}')
    return records


if __name__ == '__main__':
    main()
