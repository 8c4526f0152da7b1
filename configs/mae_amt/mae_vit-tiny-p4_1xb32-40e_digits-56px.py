# mmpretrain's own MAE (0.75 random masking, nothing thrown) on the paper's 14x14 token grid,
# everything else as mae-amt_vit-tiny-p4_1xb32-40e_digits-56px.py: its baseline.
_base_ = './mae-amt_vit-tiny-p4_1xb32-40e_digits-56px.py'

model = dict(
    type='MAE', backbone=dict(type='MAEViT', mask_ratio=0.75), neck=dict(type='MAEPretrainDecoder'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.35, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# No attention loop: the baseline.
default_hooks = dict(amt_refresh=dict(enable=False))
