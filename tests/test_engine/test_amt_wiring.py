"""AMT never switches itself off: derived configs keep the attention loop, and a run whose AMT
pieces do not come together refuses to start instead of training plain random masking."""
import logging
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

import mmamt  # noqa: F401
from mmamt.datasets.transforms import LoadAttentionMap
from mmamt.engine.hooks import AttentionRefreshHook
from mmamt.utils.amt_config import check_amt_wiring, refresh_hook_cfg
from mmamt.utils.train_setup import setup_train_config
from ._amt_runner import tiny_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMT = osp.join(ROOT, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-40e_digits.py')
MAE = osp.join(ROOT, 'configs', 'demo', 'mae_vit-tiny-p8_1xb32-40e_digits.py')


def _derived(tmp_path, body: str, base: str = AMT) -> str:
    path = tmp_path / 'derived.py'
    path.write_text(f'_base_ = {base!r}\n{body}\n')
    return str(path)


def test_a_derived_config_that_sets_custom_hooks_keeps_the_attention_loop(tmp_path):
    # The usual OpenMMLab way of adding a hook replaces the custom_hooks list.
    cfg = Config.fromfile(
        _derived(tmp_path, "custom_hooks = [dict(type='EMAHook', "
                 'momentum=1e-4)]'))
    check_amt_wiring(cfg)
    assert refresh_hook_cfg(cfg)['start_epoch'] == 4
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    names = [type(h).__name__ for h in runner.hooks]
    assert 'EMAHook' in names and names.count('AttentionRefreshHook') == 1


@pytest.mark.parametrize(
    'body,match',
    [
        # the refresh hook switched off, the AMT pipeline kept
        ('default_hooks = dict(amt_refresh=dict(enable=False))',
         r'LoadAttentionMap but default_hooks\.amt_refresh\.enable is False.*plain random masking'),
        ("custom_hooks = [dict(type='EMAHook', momentum=1e-4)]\n"
         'default_hooks = dict(amt_refresh=dict(enable=False))', 'amt_refresh.enable is False'),
        # the hook dropped altogether
        ("default_hooks = dict(amt_refresh=dict(_delete_=True, type='IterTimerHook'))",
         r'LoadAttentionMap but the config has no AttentionRefreshHook '
         r'\(default_hooks.amt_refresh\)'),
        # mmengine would fail with a bare AssertionError
        ('default_hooks = dict(amt_refresh=None)',
         r'amt_refresh=None: .*default_hooks = dict\(amt_refresh=dict\(enable=False\)\)'),
    ])
def test_amt_pipeline_without_refresh_hook_is_refused_naming_the_key(tmp_path, body, match):
    cfg = Config.fromfile(_derived(tmp_path, body))
    with pytest.raises(ValueError, match=match):
        setup_train_config(cfg)


def test_train_tool_refuses_before_building_anything(tmp_path):
    config = _derived(tmp_path, 'default_hooks = dict(amt_refresh=dict(enable=False))')
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir',
         str(work)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300)
    assert proc.returncode != 0
    assert 'default_hooks.amt_refresh' in proc.stderr and 'LoadAttentionMap' in proc.stderr
    assert not work.exists()  # refused before the Runner made its work dir


def test_refresh_hook_without_amt_transforms_is_refused(tmp_path):
    # The plain MAE baseline with an attention loop added: its maps would reach no mask.
    cfg = Config.fromfile(
        _derived(
            tmp_path, 'default_hooks = dict(amt_refresh=dict(_delete_=True, '
            "type='AttentionRefreshHook'))", MAE))
    with pytest.raises(ValueError, match='no LoadAttentionMap and no AMTMaskGenerator'):
        check_amt_wiring(cfg)


def test_two_refresh_hooks_are_refused(tmp_path):
    cfg = Config.fromfile(_derived(tmp_path, "custom_hooks = [dict(type='AttentionRefreshHook')]"))
    with pytest.raises(
            ValueError,
            match=r'2 AttentionRefreshHooks \(default_hooks.amt_refresh, '
            r'custom_hooks\[0\]\)'):
        check_amt_wiring(cfg)


def test_hook_refuses_a_pipeline_without_mask_generator_at_run_time(synthetic_root, tmp_path):
    # Runner.from_cfg directly (not tools/train.py): the hook itself refuses.
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0)
    pipeline = cfg.train_dataloader.dataset.pipeline
    cfg.train_dataloader.dataset.pipeline = [t for t in pipeline if t['type'] != 'AMTMaskGenerator']
    with pytest.raises(ValueError, match='no AMTMaskGenerator'):
        Runner.from_cfg(cfg).train()


class _Records(logging.Handler):

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record) -> None:
        self.messages.append(record.getMessage())


def test_load_attention_map_without_bank_warns_once_per_process():
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        load = LoadAttentionMap()
        for i in range(3):
            out = load(dict(sample_idx=i))
            assert out['attn_map'] is None and out['amt_active'] is False
    finally:
        logger.removeHandler(records)
    warned = [m for m in records.messages if 'no attention bank attached' in m]
    assert len(warned) == 1 and 'default_hooks.amt_refresh' in warned[0]


def test_the_hook_found_by_the_tools_is_the_one_the_runner_runs(synthetic_root, tmp_path):
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0)
    refresh_hook_cfg(cfg)['interval'] = 7
    runner = Runner.from_cfg(cfg)
    hook = next(h for h in runner.hooks if isinstance(h, AttentionRefreshHook))
    assert hook.interval == 7
