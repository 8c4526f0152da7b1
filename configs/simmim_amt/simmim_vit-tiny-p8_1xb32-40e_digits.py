# Plain SimMIM-ViT at the demo's size (mmpretrain has SimMIM only for Swin; this is mmamt's ViT
# SimMIM with AMT off): 44% random masking of the 16-px mask patches throughout, nothing thrown,
# no attention loop; everything else of simmim-amt_vit-tiny-p8_1xb32-40e_digits.py.
_base_ = './simmim-amt_vit-tiny-p8_1xb32-40e_digits.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.67, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.mask_generator}},
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# No attention loop: the baseline.
default_hooks = dict(amt_refresh=dict(enable=False))
