import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import mmamt  # noqa: F401
from mmamt.utils import config_scope
from tests.test_engine._amt_runner import tiny_model


def test_config_scope_builds_after_another_runners_scope():
    cfg = Config(dict(model=tiny_model('mae'), default_scope='mmpretrain'))
    DefaultScope.get_instance('left-by-an-mmdet-runner', scope_name='mmdet')
    with pytest.raises(KeyError, match='MAEAMT'):
        MODELS.build(cfg.model)
    with config_scope(cfg):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'MAEAMT'
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'  # restored afterwards
