"""The stack imports and works on this machine: mmcv ops compiled, upstream models build."""
import torch

import mmamt
import mmamt.downstream.det  # noqa: F401  (what the mmdet configs import)
import mmamt.downstream.seg  # noqa: F401  (what the mmseg configs import)


def test_version_and_registration():
    assert isinstance(mmamt.__version__, str) and mmamt.__version__.count('.') == 2
    from mmdet.registry import MODELS as DET_MODELS
    from mmpretrain.registry import HOOKS, MODELS, TRANSFORMS
    from mmseg.registry import MODELS as SEG_MODELS
    for name in ('AMTMAEViT', 'AMTMAEPretrainDecoder', 'MAEAMT', 'AMTSimMIMViT', 'SimMIMAMT',
                 'AMTSimMIMLinearDecoder'):
        assert MODELS.get(name) is not None, name
    for name in ('AMTMaskGenerator', 'LoadAttentionMap', 'AMTRandomResizedCrop', 'AMTRandomFlip'):
        assert TRANSFORMS.get(name) is not None, name
    assert HOOKS.get('AttentionRefreshHook') is not None
    for name in ('ViTDetBackbone', 'SimpleFPN', 'LN2d'):
        assert DET_MODELS.get(name) is not None, name
    assert SEG_MODELS.get('MAEStrict') is not None  # mmamt's, not mmseg's own MAE


def test_mmcv_compiled_ops_on_cpu():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    feats = torch.arange(64.).reshape(1, 1, 8, 8)
    out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2)(feats,
                                                                torch.tensor([[0., 0., 0., 4.,
                                                                               4.]]))
    assert out.shape == (1, 1, 2, 2)


def test_upstream_models_build_and_run():
    from mmdet.registry import MODELS as DET_MODELS
    from mmdet.utils import register_all_modules as det_register
    from mmpretrain.registry import MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    det_register(init_default_scope=False)
    rpn = DET_MODELS.build(
        dict(
            type='RPNHead',
            in_channels=8,
            feat_channels=8,
            anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[1.0], strides=[4])))
    cls, reg = rpn(tuple([torch.rand(1, 8, 8, 8)]))
    assert cls[0].shape == (1, 1, 8, 8)
    vit = MODELS.build(dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=8))
    assert vit(torch.rand(1, 3, 32, 32))[0].shape == (1, 192)
    head = SEG_MODELS.build(
        dict(
            type='FCNHead',
            in_channels=8,
            channels=8,
            num_classes=3,
            num_convs=1,
            concat_input=False))
    assert head([torch.rand(1, 8, 8, 8)]).shape == (1, 3, 8, 8)


def test_timm_builds_offline():
    import timm
    model = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32)
    assert model.forward_features(torch.rand(1, 3, 32, 32)).shape == (1, 5, 192)
