# CPU demo of the UperNet benchmark: a tiny ViT (64 dims, 4 layers, 4 heads, patch 8) on the
# synthetic ADE20K-layout set, 64x64 crops, 40 iterations, mIoU on the validation images.
#   python tools/dataset_converters/make_synthetic_data.py data/synthetic
#   python tools/model_converters/convert_amt.py TINY_PRETRAIN.pth work_dirs/demo_mmseg.pth \
#       --to mmseg
#   python tools/train.py \
#       configs/benchmarks/mmseg/upernet_vit-demo-p8_1xb4-40iter_synthetic-ade-64x64.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/demo_mmseg.pth
_base_ = './upernet_vit-b-p16_8xb2-160k_ade20k-512x512.py'

crop_size = (64, 64)
embed_dims = 64
num_layers = 4
num_classes = 5
pretrained = 'work_dirs/demo_mmseg.pth'
norm_cfg = dict(type='BN', requires_grad=True)  # one CPU process: no SyncBN

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=crop_size,
        patch_size=8,
        embed_dims=embed_dims,
        num_layers=num_layers,
        num_heads=4,
        mlp_ratio=2,
        drop_path_rate=0.0,
        out_indices=[0, 1, 2, 3],
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(embed_dim=embed_dims),
    decode_head=dict(
        in_channels=[embed_dims] * 4, channels=32, num_classes=num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=embed_dims, channels=32, num_classes=num_classes, norm_cfg=norm_cfg),
    test_cfg=dict(_delete_=True, mode='whole'))

# The synthetic ADE layout: label PNGs hold 0 = background and k + 1 = class k, so
# reduce_zero_label=True gives labels 0..4 with the background ignored.
dataset = dict(
    type='BaseSegDataset',
    data_root='data/synthetic/ade',
    metainfo=dict(
        classes=('circle', 'square', 'triangle', 'ring', 'cross'),
        palette=[[220, 20, 60], [0, 128, 255], [60, 180, 75], [255, 160, 0], [145, 30, 180]]),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 64), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        **dataset,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        **dataset,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(lr=1e-3), paramwise_cfg=dict(num_layers=num_layers, layer_decay_rate=0.65))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=5, end=40, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40, val_interval=40)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=40), visualization=dict(draw=False))
