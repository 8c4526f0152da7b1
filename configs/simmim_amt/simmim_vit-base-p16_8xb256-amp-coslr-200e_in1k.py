# Plain SimMIM-ViT baseline: the same backbone, head and recipe as SimMIM-AMT, random masking of
# 44% of the 32-px mask patches throughout, nothing thrown, no attention loop.
_base_ = './simmim-amt_vit-base-p16_8xb256-amp-coslr-200e_in1k.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.mask_generator}},
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# No attention loop: the baseline.
default_hooks = dict(amt_refresh=dict(enable=False))
