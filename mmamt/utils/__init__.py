from .checkpoint import register_safe_globals, safe_checkpoint_globals
from .dist import setup_cpu_distributed
from .io import atomic_torch_save
from .model import eval_mode, unwrap
from .scope import config_scope, resolve_scoped_collate_fns

__all__ = [
    'register_safe_globals', 'safe_checkpoint_globals', 'setup_cpu_distributed', 'config_scope',
    'eval_mode', 'unwrap', 'atomic_torch_save', 'resolve_scoped_collate_fns'
]
