# mmpretrain's own MaskFeat (BEiT block masking of 78 of 196 patches, nothing thrown) with
# everything else of maskfeat-amt_vit-tiny-p4_1xb32-40e_digits-56px.py.
_base_ = './maskfeat-amt_vit-tiny-p4_1xb32-40e_digits-56px.py'

model = dict(
    type='MaskFeat',
    data_preprocessor=dict(type='SelfSupDataPreprocessor'),
    backbone=dict(type='MaskFeatViT'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.35, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='BEiTMaskGenerator', input_size=14, num_masking_patches=78, min_num_patches=15),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# No attention loop: the baseline.
default_hooks = dict(amt_refresh=dict(enable=False))
