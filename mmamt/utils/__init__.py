from .checkpoint import (AtomicLocalBackend, checkpoint_error, register_safe_globals,
                         resolve_resume, safe_checkpoint_globals, setup_checkpoints,
                         use_atomic_checkpoints)
from .dist import finish_distributed, setup_cpu_distributed
from .io import (UnreadableFileError, atomic_torch_save, atomic_write, atomic_write_bytes,
                 clean_stale_temporaries, clean_stale_temporaries_in, load_torch_file)
from .model import build_model, eval_mode
from .scope import config_scope, resolve_scoped_collate_fns

__all__ = [
    'register_safe_globals', 'safe_checkpoint_globals', 'setup_cpu_distributed',
    'finish_distributed', 'config_scope', 'eval_mode', 'build_model', 'atomic_torch_save',
    'atomic_write', 'atomic_write_bytes', 'clean_stale_temporaries', 'clean_stale_temporaries_in',
    'load_torch_file', 'UnreadableFileError', 'AtomicLocalBackend', 'checkpoint_error',
    'resolve_resume', 'setup_checkpoints', 'use_atomic_checkpoints', 'resolve_scoped_collate_fns'
]
