"""Test-only hook for the DDP refresh test: each rank writes what its bank holds."""
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from mmamt.engine.hooks import AttentionRefreshHook


@HOOKS.register_module()
class DumpBankProbe(Hook):
    priority = 'LOWEST'

    def after_train(self, runner):
        hook = next(h for h in runner.hooks if isinstance(h, AttentionRefreshHook))
        torch.save(
            dict(
                maps=hook.bank.maps.clone(),
                writes=hook.last_refresh_writes,
                refreshes=hook.bank.num_refreshes,
                active=hook.bank.active,
                world=runner.world_size), f'{runner.work_dir}/bank_rank{get_rank()}.pth')
