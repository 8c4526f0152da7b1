"""A resume never mixes settings: the AMT record saved with the bank (how the maps were made,
by which model, at which epoch length) is checked before any weight is loaded."""
import logging

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmamt.datasets import AttentionBank
from mmamt.utils.amt_config import mask_generator_cfg
from ._amt_runner import tiny_cfg
from ._faults import refresh_hook
from .test_faults_resume import BankProbe


class LogProbe(Hook):
    """Every message of the runner's logger from ``before_run`` on (stdout capture and log files
    miss them when an earlier Runner of the same second made the logger)."""

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self.handler = logging.Handler()
        self.handler.emit = lambda record: self.lines.append(record.getMessage())
        self.lines = []

    def before_run(self, runner) -> None:
        runner.logger.addHandler(self.handler)

    def after_run(self, runner) -> None:
        runner.logger.removeHandler(self.handler)

    @property
    def text(self) -> str:
        return '\n'.join(self.lines)


@pytest.fixture(scope='module')
def first_run(synthetic_root, tmp_path_factory):
    """Two epochs of the tiny MAE-AMT, a refresh after epoch 1: ``epoch_1.pth`` has a bank."""
    work = tmp_path_factory.mktemp('first')
    Runner.from_cfg(
        tiny_cfg(synthetic_root, work, max_epochs=2, start_epoch=1, interval=1,
                 num_workers=0)).train()
    return work


def test_the_record_is_saved_with_the_bank_in_checkpoints_and_bank_files(first_run):
    ckpt = torch.load(first_run / 'epoch_1.pth', map_location='cpu')
    made = ckpt['amt_bank']['made_with']
    assert made['maps'] == dict(
        source='last-layer [CLS] attention, heads averaged',
        map_norm='minmax',
        image_size=[32, 32],
        grid=[4, 4],
        quantisation='uint8, value / 255')
    assert made['model']['model.backbone.arch.num_heads'] == 2
    assert made['model']['model.neck.decoder_depth'] == 1
    assert made['run'] == dict(world_size=1, iters_per_epoch=5)  # 40 images, batch 8
    # tools read it from the bank file, not from the config
    assert AttentionBank.from_file(str(first_run / 'amt_bank' / 'epoch_1.pth')).made_with == made


def test_changed_map_norm_recomputes_the_maps_before_training_continues(
        synthetic_root, first_run, tmp_path):
    probe = BankProbe(fresh=True)
    cfg_kwargs = dict(start_epoch=1, interval=1)
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=2, num_workers=0, **cfg_kwargs)
    mask_generator_cfg(cfg)['map_norm'] = 'max'
    cfg.resume, cfg.load_from = True, str(first_run / 'epoch_1.pth')
    runner = Runner.from_cfg(cfg)
    runner.register_hook(probe)
    logs = LogProbe()
    runner.register_hook(logs)
    runner.train()
    log = logs.text
    assert "map_norm: 'minmax' in the checkpoint, 'max' in the config" in log
    assert 'discarded and recomputed' in log
    saved = torch.load(first_run / 'epoch_1.pth', map_location='cpu')['amt_bank']['maps']
    # the maps training continued with are the 'max' maps of the resumed model, not the old ones
    assert torch.equal(probe.seen['maps'], probe.seen['fresh'])
    assert not torch.equal(probe.seen['maps'], saved)
    assert refresh_hook(runner).bank.made_with['maps']['map_norm'] == 'max'


@pytest.mark.parametrize(
    'key,value,named',
    [
        ('embed_dims', 48,
         "model.backbone.arch.embed_dims: 32 in the checkpoint, 48 in the config"),
        ('num_layers', 3, "model.backbone.arch.num_layers: 2 in the checkpoint, 3 in the config"),
        # same weight shapes: only the record can tell
        ('num_heads', 4, "model.backbone.arch.num_heads: 2 in the checkpoint, 4 in the config"),
    ])
def test_changed_model_is_refused_by_key_before_weights_load(synthetic_root, first_run, tmp_path,
                                                             key, value, named):
    cfg = tiny_cfg(synthetic_root, tmp_path, max_epochs=2, num_workers=0, start_epoch=1)
    cfg.model.backbone.arch[key] = value
    if key == 'embed_dims':
        cfg.model.neck.embed_dim = value
    cfg.resume, cfg.load_from = True, str(first_run / 'epoch_1.pth')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='cannot be resumed') as err:
        runner.train()
    assert named in str(err.value)
    # nothing was loaded: no weight of the model holds the checkpoint's values
    saved = torch.load(first_run / 'epoch_1.pth', map_location='cpu')['state_dict']
    trained = {k: v for k, v in runner.model.named_parameters() if v.requires_grad}
    same_shape = [k for k, v in trained.items() if k in saved and saved[k].shape == v.shape]
    assert same_shape
    assert not any(torch.equal(trained[k].detach(), saved[k]) for k in same_shape)


def test_checkpoint_without_record_still_refuses_other_weight_shapes(synthetic_root, first_run,
                                                                     tmp_path):
    ckpt = torch.load(first_run / 'epoch_1.pth', map_location='cpu', weights_only=False)
    del ckpt['amt_bank']['made_with']  # as an older mmamt saved it
    old = tmp_path / 'old.pth'
    torch.save(ckpt, old)
    cfg = tiny_cfg(synthetic_root, tmp_path / 'w', max_epochs=2, num_workers=0, start_epoch=1)
    cfg.model.backbone.arch.feedforward_channels = 96
    cfg.resume, cfg.load_from = True, str(old)
    with pytest.raises(ValueError, match=r'6 weights of another shape: backbone\.layers\.0\.ffn'):
        Runner.from_cfg(cfg).train()


def test_another_epoch_length_is_resumed_with_a_warning(synthetic_root, first_run, tmp_path):
    # Another batch size changes the epoch length as another number of processes does.
    probe = BankProbe()
    cfg = tiny_cfg(
        synthetic_root,
        tmp_path,
        max_epochs=2,
        num_workers=0,
        start_epoch=1,
        interval=1,
        batch_size=4)
    cfg.resume, cfg.load_from = True, str(first_run / 'epoch_1.pth')
    runner = Runner.from_cfg(cfg)
    logs = LogProbe()
    for hook in (probe, logs):
        runner.register_hook(hook)
    runner.train()
    log = logs.text
    assert 'trained at 5 iterations per epoch (1 processes), this run has 10' in log
    assert 'convert_to_iter_based' in log
    assert probe.seen['refreshes'] == 1  # the maps themselves stay valid: restored
