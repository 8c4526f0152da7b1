"""The refresh schedule the refresh-cost benchmark counts is the hook's own."""
import os.path as osp

from mmengine.config import Config

from mmamt.analysis import refresh_schedule

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMT = osp.join(REPO, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-40e_digits.py')


def test_refreshes_end_at_stop_epoch():
    cfg = Config.fromfile(AMT)  # AMT from epoch 4, a refresh every 4, 40 epochs
    assert refresh_schedule(cfg) == dict(
        epochs=40, start_epoch=4, interval=4, stop_epoch=None, refreshes=9, amt_epochs=36)
    cfg.default_hooks.amt_refresh.stop_epoch = 27  # refreshes after 4, 8, ..., 24
    sched = refresh_schedule(cfg)
    assert (sched['refreshes'], sched['amt_epochs']) == (6, 23)  # AMT in epochs 5..27
    cfg.train_cfg.max_epochs = 3  # AMT never starts
    assert refresh_schedule(cfg)['amt_epochs'] == 0
