# Demo: the ViTDet Mask R-CNN recipe of mask-rcnn_vit-b-p16_simplefpn_lsj-100e_coco.py shrunk to
# a tiny ViT (4 layers, 64 channels, patch 16) on the synthetic COCO set with 128x128 LSJ crops.
# 30 iterations, a few minutes on a CPU: enough to see the losses fall, far too few for a useful
# mAP. Make the data first, then train (and test with tools/test.py):
#   python tools/dataset_converters/make_synthetic_data.py data/synthetic
#   python tools/train.py configs/benchmarks/mmdet/mask-rcnn_vit-tiny_simplefpn_demo_synthetic.py
# To start from a tiny pre-training run, convert its checkpoint
# (tools/model_converters/convert_amt.py IN OUT --to mmdet) and set `pretrained` to OUT; the arch
# below must match it (pretrain_img_size = its img_size).
_base_ = './mask-rcnn_vit-b-p16_simplefpn_lsj-100e_coco.py'

pretrained = None
image_size = (128, 128)
embed_dims = 64
num_layers = 4
fpn_channels = 32
data_root = 'data/synthetic/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'ring', 'cross'),
    palette=[(220, 20, 60), (0, 130, 230), (0, 170, 60), (250, 170, 30), (120, 60, 200)])
norm_cfg = dict(type='LN2d', eps=1e-6, requires_grad=True)

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=num_layers,
            num_heads=4,
            feedforward_channels=128),
        img_size=image_size,
        pretrain_img_size=64,
        window_size=4,  # 8x8 patch grid: four 4x4 windows
        global_attn_indexes=(1, 3),
        drop_path_rate=0.0,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained) if pretrained else None),
    neck=dict(
        backbone_channel=embed_dims,
        in_channels=[embed_dims // 4, embed_dims // 2, embed_dims, embed_dims],
        out_channels=fpn_channels,
        norm_cfg=norm_cfg),
    rpn_head=dict(
        in_channels=fpn_channels,
        feat_channels=fpn_channels,
        # Objects are 10-60 px: anchors of 16-256 px over strides 4-64.
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=fpn_channels),
        bbox_head=dict(
            in_channels=fpn_channels,
            conv_out_channels=fpn_channels,
            fc_out_channels=64,
            num_classes=5),
        mask_roi_extractor=dict(out_channels=fpn_channels),
        mask_head=dict(in_channels=fpn_channels, conv_out_channels=fpn_channels, num_classes=5)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=200, max_per_img=50),
        # Keep every class score: a model trained for a few iterations still yields detections,
        # so the COCO metric has something to evaluate.
        rcnn=dict(score_thr=0.0, max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=image_size,
        recompute_bbox=True,
        allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]

train_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True,
    batch_size=4,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric=['bbox', 'segm'],
    format_only=False)
test_evaluator = val_evaluator

max_iters = 30
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='MultiStepLR', begin=0, end=max_iters, by_epoch=False, milestones=[24], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(num_layers=num_layers, decay_rate=0.7),
    optimizer=dict(lr=1e-3),
    clip_grad=dict(max_norm=1.0))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
