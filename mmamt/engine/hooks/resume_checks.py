"""What a resume must not change silently, checked from the AMT record before weights load."""
from typing import Dict, Mapping, Optional

import torch.nn as nn

from mmamt.models.utils import describe_model, model_changes, weight_changes


def check_same_model(saved_bank: Mapping, state_dict: Mapping, model: nn.Module) -> None:
    """Refuse to resume a checkpoint into a model with other settings or other weight shapes.

    Args:
        saved_bank (Mapping): The checkpoint's ``amt_bank`` (its ``made_with['model']`` is the
            model that saved it; older checkpoints lack it and only the weight shapes count).
        state_dict (Mapping): The checkpoint's weights.
        model (nn.Module): The model of the current config, not loaded yet.

    Raises:
        ValueError: Naming each config key (or weight) that differs.
    """
    saved = (saved_bank.get('made_with') or {}).get('model')
    problems = model_changes(saved, describe_model(model)) if saved else []
    if not problems:
        problems = weight_changes(state_dict, model)
    if problems:
        raise ValueError(
            'AttentionRefreshHook: the checkpoint was saved by another model than the config '
            'builds, so it cannot be resumed (nothing was loaded): ' + '; '.join(problems) +
            '. Resume with the model settings of the checkpoint, or start a new run in a new '
            'work_dir (load_from without resume to start from its weights)')


def warn_epoch_length(runner, saved: Optional[Dict], now: Dict) -> None:
    """Warn when the resumed run has another epoch length than the one that saved it.

    mmengine converts epoch-based schedules (``convert_to_iter_based=True``: the warm-up, the
    cosine) to iterations once, and a resume restores those iteration counts: with another
    number of processes or batch size they no longer end at the epoch the config says.
    """
    if not saved or not now:
        return
    old_len, new_len = saved.get('iters_per_epoch'), now.get('iters_per_epoch')
    if old_len in (None, new_len):
        return
    runner.logger.warning(
        f'AMT: the checkpoint was trained at {old_len} iterations per epoch '
        f'({saved.get("world_size")} processes), this run has {new_len} '
        f'({now.get("world_size")} processes). mmengine resumes schedules converted from '
        'epochs to iterations (convert_to_iter_based: warm-up, cosine decay) in the old '
        f'epoch length, so they now end after {old_len / new_len:.2f}x the epochs the config '
        'gives. Resume with the same number of processes and batch size to keep the schedule.')


def restore_bank(bank, checkpoint: Mapping, model: nn.Module, runner) -> None:
    """Restore a checkpoint's bank into ``bank``, or keep it uniform and say why.

    In order: another model is refused (:func:`check_same_model`); another epoch length is
    warned about; maps of other training data or made with other map settings are discarded
    (they are a function of the model and the data: recomputing them from the resumed model is
    sound, reusing them would give samples their neighbours' maps, or other maps than the config
    asks for); otherwise the maps come back bit for bit with the AMT flag.

    Args:
        bank (AttentionBank): The run's bank (uniform, attached to the pipeline).
        checkpoint (Mapping): The loaded checkpoint; its bank is under ``'amt_bank'``.
        model (nn.Module): The model, not loaded yet.
        runner: For its logger and the epoch length.
    """
    log = runner.logger
    saved = checkpoint.get('amt_bank')
    later = 'maps start uniform and AMT inactive until a refresh (before training continues if ' \
            'one was due)'
    if saved is None:
        log.warning(f'AMT: the checkpoint has no attention bank; {later}')
        return
    check_same_model(saved, checkpoint.get('state_dict') or {}, model)
    warn_epoch_length(runner, (saved.get('made_with') or {}).get('run'),
                      bank.made_with.get('run', {}))
    mismatch = bank.data_mismatch(saved)
    if mismatch is not None:
        log.warning(f'AMT: the attention bank in the checkpoint belongs to other training data '
                    f'({mismatch}); its maps are discarded: {later}')
        return
    saved_maps = (saved.get('made_with') or {}).get('maps')
    now_maps = bank.made_with.get('maps', {})
    changes = None if saved_maps is None else model_changes(saved_maps, now_maps)
    if changes:
        log.warning(f'AMT: the attention maps in the checkpoint were made differently '
                    f'({"; ".join(changes)}); they are discarded and recomputed with the current '
                    f'settings: {later}')
        return
    for missing, what in ((changes is None, 'map settings'), (saved.get('data_id')
                                                              is None, 'data identity')):
        if missing:
            log.warning(f'AMT: the attention bank in the checkpoint records no {what} (saved by '
                        'an older mmamt); assuming it is unchanged')
    bank.load_state_dict(saved)
    log.info(f'AMT: restored the attention bank (active={bank.active}, last refresh after epoch '
             f'{bank.last_refresh_epoch})')
