"""Checkpoints written by real MAE-AMT / SimMIM-AMT Runner runs convert with full coverage."""
import pytest
import timm
import torch
from mmengine.runner import Runner

import mmamt  # noqa: F401
from mmamt.downstream.convert import TARGETS, convert_checkpoint
from tests.test_engine._amt_runner import tiny_cfg


@pytest.fixture(scope='module', params=['mae', 'simmim'])
def trained(request, synthetic_root, tmp_path_factory):
    work = tmp_path_factory.mktemp(f'{request.param}_run')
    cfg = tiny_cfg(
        synthetic_root, work, max_epochs=2, start_epoch=1, num_workers=0, algo=request.param)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return request.param, work / 'epoch_2.pth', runner


@pytest.mark.parametrize('target', TARGETS)
def test_full_coverage_from_a_real_run(trained, tmp_path, target):
    algo, ckpt, runner = trained
    # the architecture (heads included) comes from the config text saved in the checkpoint
    result = convert_checkpoint(str(ckpt), str(tmp_path / 'out.pth'), target)
    report = result.coverage
    assert report.ok
    summary = report.summary()
    assert summary['missing'] == summary['unused'] == summary['mismatched'] == 0
    # every encoder tensor is either used or dropped by design, with a reason
    encoder = [k[len('backbone.'):] for k in runner.model.state_dict() if k.startswith('backbone.')]
    dropped_encoder = [k for k in report.dropped if k in encoder]
    assert sorted(report.used + dropped_encoder) == sorted(encoder)
    assert set(dropped_encoder) <= {'cls_token', 'mask_token'}
    assert any(k.startswith('neck.') or k.startswith('head.') for k in report.dropped)
    assert (tmp_path / 'out.pth').exists()
    if target == 'timm':
        sd = torch.load(tmp_path / 'out.pth', map_location='cpu')
        kwargs = dict(result.info['timm_kwargs'])
        model = timm.models.vision_transformer.VisionTransformer(**kwargs)
        model.load_state_dict(sd, strict=True)
        model.eval()
        x = torch.randn(2, 3, 32, 32)
        ours = runner.model.backbone
        ours.eval()  # mmpretrain's VisionTransformer.train() returns None: no chaining
        with torch.no_grad():
            expected = ours(x, mask=None)[-1]
            got = model.forward_features(x)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
