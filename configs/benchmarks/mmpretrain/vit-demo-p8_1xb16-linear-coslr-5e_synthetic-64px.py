# CPU demo of the linear-probe benchmark: a tiny ViT (64 dims, 4 layers, 4 heads, patch 8,
# 64 px) on the synthetic ImageNet-layout set (5 classes), frozen encoder, BN + linear on CLS,
# LARS, 5 epochs, top-1 accuracy on the validation images.
#   python tools/dataset_converters/make_synthetic_data.py data/synthetic
#   python tools/model_converters/convert_amt.py TINY_PRETRAIN.pth \
#       work_dirs/demo_mmpretrain.pth --to mmpretrain
#   python tools/train.py \
#       configs/benchmarks/mmpretrain/vit-demo-p8_1xb16-linear-coslr-5e_synthetic-64px.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/demo_mmpretrain.pth
_base_ = './vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'

checkpoint = 'work_dirs/demo_mmpretrain.pth'
embed_dims = 64
num_layers = 4
num_classes = 5
max_epochs = 5

data_preprocessor = dict(num_classes=num_classes)
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,  # replaces the base's arch='base'
            embed_dims=embed_dims,
            num_layers=num_layers,
            num_heads=4,
            feedforward_channels=2 * embed_dims),
        img_size=64,
        patch_size=8,
        frozen_stages=num_layers,
        init_cfg=dict(checkpoint=checkpoint)),
    neck=dict(input_features=embed_dims),
    head=dict(num_classes=num_classes, in_channels=embed_dims))

# meta/*.txt give the labels in SYNTHETIC_CLASSES order (a folder scan would sort them).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.5, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/synthetic/imagenet',
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/synthetic/imagenet',
        ann_file='meta/val.txt',
        data_prefix='val',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# fp32 (AMP needs a GPU); the MAE lr rule lr = 0.1 x batch / 256, times 10 for the short run.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=0.1 * 16 / 256 * 10))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        eta_min=0.0,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
