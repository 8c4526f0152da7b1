"""Load OpenMMLab checkpoints under torch's ``weights_only=True`` default (torch >= 2.6).

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; since torch 2.6 that means the
restricted unpickler, which refuses the numpy scalars and arrays in ``meta`` and the
``HistoryBuffer`` objects in ``message_hub`` that every Runner checkpoint holds, so resuming fails.
Instead of switching the restriction off (which would let a checkpoint run arbitrary code), we add
exactly those data types to torch's allow-list. Callables such as ``os.system`` stay refused.
"""
import pickle
import warnings
from typing import Any, List

import numpy as np
import torch

_REGISTERED = False


def _numpy_globals() -> List[object]:
    """Numpy types that pickles of arrays, dtypes and scalars reference."""
    types: List[object] = [np.ndarray, np.dtype]
    # numpy 2 moved numpy.core to numpy._core; pickles name whichever wrote them.
    for mod_name in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)
                mod = __import__(mod_name, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        for name in ('_reconstruct', 'scalar'):
            fn = getattr(mod, name, None)
            if fn is not None:
                types.append((fn, f'{mod_name}.{name}'))
    # The dtype classes (numpy >= 1.25 pickles dtypes through them).
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        for name in dir(dtypes_mod):
            obj = getattr(dtypes_mod, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                types.append(obj)
    # Scalar types, e.g. np.float64, np.int64, np.bool_.
    for name in ('float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8',
                 'uint16', 'uint32', 'uint64', 'bool_'):
        types.append(getattr(np, name))
    return types


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """A ``getattr`` that only fetches ``HistoryBuffer``'s own statistics methods.

    ``HistoryBuffer`` pickles its ``statistics_methods`` as ``getattr(HistoryBuffer, 'mean')``
    and so on. The real ``getattr`` cannot be allowed (a chain of them reaches ``os.system``), so
    this stands in for it under the name ``builtins.getattr`` and refuses anything else.
    """
    from mmengine.logging import HistoryBuffer
    # The registry fills when the first buffer is built; a fresh process may load first.
    own_method = not name.startswith('_') and callable(vars(HistoryBuffer).get(name))
    if obj is HistoryBuffer and (name in HistoryBuffer._statistics_methods or own_method):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}); '
        'only HistoryBuffer statistics methods are allowed')


def _mmengine_globals() -> List[object]:
    """mmengine data classes that a Runner checkpoint's ``message_hub`` pickles."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (history_buffer_getattr, 'builtins.getattr'),
            (history_buffer_getattr, '__builtin__.getattr')]


def safe_checkpoint_globals() -> List[object]:
    """Return the allow-list: data-only types found in OpenMMLab Runner checkpoints."""
    return _numpy_globals() + _mmengine_globals()


def register_safe_globals() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine Runner checkpoints.

    Idempotent. Called by ``import mmamt``. On torch < 2.4 (no allow-list API) it does nothing,
    as those versions load with the full unpickler anyway.
    """
    global _REGISTERED
    if _REGISTERED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(safe_checkpoint_globals())
    _REGISTERED = True
