"""The bank a map source would give a checkpoint: the refresh pass, run once, outside training.

With it every source can be compared on the same trained encoder, by the same statistics that
the refresh banks of a run get (``tools/analysis_tools/attention_stats.py``).
"""
import copy
from typing import Dict, Union

from mmamt.datasets import AttentionBank
from mmamt.engine.bank_setup import map_record
from mmamt.engine.refresh import backbone_of, refresh_bank, refresh_view
from mmamt.utils.amt_config import mask_generator_arg, train_dataset_cfg
from mmamt.utils.model import build_model
from mmamt.utils.scope import config_scope


def source_bank(cfg,
                checkpoint: str,
                source: Union[None, str, Dict] = None,
                epoch: int = 0,
                batch_size: int = 64,
                num_workers: int = 0) -> AttentionBank:
    """Every training sample's map from ``checkpoint`` with ``source``, as a refresh writes it.

    The config's training set in the refresh view, its ``AMTMaskGenerator.map_norm``, the
    refresh pass itself (:func:`~mmamt.engine.refresh.refresh_bank`); the bank records the
    source like a run's bank does.

    Args:
        cfg (Config): The run's config (an AMT pre-training config).
        checkpoint (str): Its checkpoint.
        source (dict | str, optional): A map source (``AttentionRefreshHook.map_source``).
            Defaults to None (the last-layer [CLS] attention).
        epoch (int): The completed epoch the bank records. Defaults to 0.
        batch_size (int): Images per forward. Defaults to 64.
        num_workers (int): Dataloader workers. Defaults to 0.

    Returns:
        AttentionBank: Active, one refresh, ``made_with['maps']`` as the hook records it.
    """
    from mmpretrain.registry import DATASETS
    model = build_model(cfg, checkpoint)
    with config_scope(cfg):
        dataset = DATASETS.build(copy.deepcopy(train_dataset_cfg(cfg)))
    backbone = backbone_of(model)
    bank = AttentionBank(
        len(dataset),
        backbone.patch_resolution,
        made_with=dict(maps=map_record(model, mask_generator_arg(cfg, 'map_norm'), source)))
    view = refresh_view(dataset, backbone.input_size)
    refresh_bank(model, view, bank, epoch, batch_size, num_workers)
    return bank
