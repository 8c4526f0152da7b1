"""A hook that kills the training process in the middle of writing a checkpoint.

Imported by the subprocess runs of the fault tests (``custom_imports``). When the environment
variable ``MMAMT_TEST_KILL_SAVE_EPOCH`` is N, it limits the file size (``RLIMIT_FSIZE``) to half
of ``epoch_1.pth`` right before the epoch-N checkpoint is saved and restores the default action
of ``SIGXFSZ``: the kernel kills the process while the checkpoint bytes are being written, as a
kill during "Saving checkpoint" would.
"""
import os
import os.path as osp
import resource
import signal

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class KillDuringSaveHook(Hook):

    priority = 'LOW'  # after AttentionRefreshHook (NORMAL), before CheckpointHook (VERY_LOW)

    def after_train_epoch(self, runner) -> None:
        epoch = os.environ.get('MMAMT_TEST_KILL_SAVE_EPOCH')
        if epoch is None or runner.epoch + 1 != int(epoch):
            return
        limit = osp.getsize(osp.join(runner.work_dir, 'epoch_1.pth')) // 2
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        print(
            f'KILL POINT: saving the epoch {epoch} checkpoint, file size limit {limit}', flush=True)
