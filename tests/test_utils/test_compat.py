"""The private upstream names mmamt relies on still mean what mmamt assumes (mmamt.utils.compat).

Each test fails when a pinned package renames or changes one of them, pointing at the accessor
to update instead of a hook or a tool failing obscurely.
"""
import inspect

import torch
from mmcv.transforms import RandomFlip
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmpretrain.models import SelfSupDataPreprocessor

from mmamt.utils import compat


def test_training_run_reads_the_train_loop_mmengine_builds_in_train(synthetic_root, tmp_path):
    from tests.test_engine._amt_runner import tiny_cfg
    runner = Runner.from_cfg(tiny_cfg(synthetic_root, tmp_path, max_epochs=1, num_workers=0))
    assert isinstance(runner._train_loop, dict)  # a config until train() builds it
    assert not compat.training_run(runner)
    runner.train_loop  # noqa: B018  (the property builds it)
    assert compat.training_run(runner)


def test_preprocessor_flags_follow_the_config():
    plain = SelfSupDataPreprocessor()
    full = SelfSupDataPreprocessor(mean=[1., 2., 3.], std=[1., 1., 1.], to_rgb=True)
    assert not compat.normalizes_inputs(plain) and not compat.converts_channels(plain)
    assert compat.normalizes_inputs(full) and compat.converts_channels(full)
    assert torch.equal(full.mean.flatten(), torch.tensor([1., 2., 3.]))


def test_history_buffer_statistics_are_its_registered_methods():
    HistoryBuffer()  # registers the defaults
    names = compat.history_buffer_statistics()
    assert {'mean', 'current', 'max', 'min'} <= set(names)
    assert all(callable(getattr(HistoryBuffer, n)) for n in names)


def test_vitsam_relative_position_resizer_signature():
    resize = compat.vitsam_relative_position_resizer()
    assert list(inspect.signature(resize).parameters)[:3] == ['self', 'state_dict', 'prefix']


def test_random_flip_private_hook_that_amt_random_flip_overrides():
    # AMTRandomFlip overrides RandomFlip._flip(results) to flip the attention view too.
    from mmamt.datasets.transforms import AMTRandomFlip
    assert list(inspect.signature(RandomFlip._flip).parameters) == ['self', 'results']
    assert AMTRandomFlip._flip is not RandomFlip._flip
