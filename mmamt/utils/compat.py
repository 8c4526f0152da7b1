"""The private upstream attributes mmamt relies on, in one place.

Each accessor names the pinned version it was read from; ``tests/test_utils/test_compat.py``
fails when a pinned package changes one of them, instead of a hook or a tool failing obscurely.
Private names used elsewhere on purpose (a subclass overriding ``RandomFlip._flip``, the one
``ViTSAM._prepare_relative_position`` call of the ViTDet backbone) are checked there as well.
"""
from typing import Any, Callable, Tuple

from mmengine.runner import BaseLoop


def training_run(runner) -> bool:
    """Whether ``runner`` is training: its train loop is built (mmengine 0.10.7 keeps it in
    ``Runner._train_loop``, a dict until ``train()`` builds it; the public ``train_loop``
    property would build it as a side effect, also in a test-only run)."""
    return isinstance(getattr(runner, '_train_loop', None), BaseLoop)


def normalizes_inputs(preprocessor) -> bool:
    """Whether an mmpretrain data preprocessor normalises its inputs (mmpretrain 1.2.0 keeps it
    in ``_enable_normalize``; mean and std are buffers only when it does)."""
    return bool(getattr(preprocessor, '_enable_normalize', False))


def converts_channels(preprocessor) -> bool:
    """Whether an mmpretrain data preprocessor swaps BGR and RGB (mmpretrain 1.2.0:
    ``_channel_conversion``, set from ``to_rgb``)."""
    return bool(getattr(preprocessor, '_channel_conversion', False))


def history_buffer_statistics() -> Tuple[str, ...]:
    """The statistics methods ``HistoryBuffer`` registers (mmengine 0.10.7:
    ``HistoryBuffer._statistics_methods``), which its pickles reference by name."""
    from mmengine.logging import HistoryBuffer
    return tuple(HistoryBuffer._statistics_methods)


def vitsam_relative_position_resizer() -> Callable[[Any, dict, str], None]:
    """mmpretrain 1.2.0's ``ViTSAM._prepare_relative_position(self, state_dict, prefix)``, which
    resizes relative-position tables of a checkpoint to the model's window."""
    from mmpretrain.models.backbones import ViTSAM
    return ViTSAM._prepare_relative_position
