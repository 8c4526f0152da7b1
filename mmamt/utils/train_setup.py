"""The one setup path from a training config to a Runner: tools/train.py, the comparison
harness and the config smoke test all go through :func:`setup_train_config`."""
from mmengine.config import Config

from .amt_config import check_amt_wiring
from .checkpoint import setup_checkpoints
from .dist import setup_cpu_distributed
from .scope import resolve_scoped_collate_fns


def setup_train_config(cfg: Config) -> Config:
    """Check and adjust a training config in place, ready for ``Runner.from_cfg``.

    In order: the AMT pieces must come together (:func:`~mmamt.utils.amt_config.check_amt_wiring`,
    before anything is built); scoped collate functions are resolved (mmengine 0.10.7 passes the
    ``_scope_`` of ``mmpretrain::`` inheritance on to them); ``launcher='pytorch'`` runs on CPUs
    (gloo); checkpoints are written atomically and ``resume`` skips unreadable ones.

    Args:
        cfg (Config): The training config, command-line options merged (``launcher`` set).

    Returns:
        Config: The same config.

    Raises:
        ValueError: If the config's AMT pieces do not fit together.
    """
    check_amt_wiring(cfg)
    return setup_checkpoints(setup_cpu_distributed(resolve_scoped_collate_fns(cfg)))
