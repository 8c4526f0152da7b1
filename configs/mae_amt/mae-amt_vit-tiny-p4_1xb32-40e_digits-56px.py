# MAE-AMT on the paper's token grid: the demo's tiny ViT (4 blocks, 96 channels) at 56 px with
# 4-px patches, 14x14 = 196 patches as ViT-B/16 at 224 px (the demo grid has 64). Everything
# else as ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py: the shipped guidance (0.75 masked,
# 0.10 thrown, least attended first; 0.75 random before the first refresh after epoch 4), AdamW,
# batch 32, 40 epochs. Baseline beside it: mae_vit-tiny-p4_1xb32-40e_digits-56px.py; how they
# compare: docs/does-amt-help.md. Make the data first:
#   python tools/dataset_converters/digits_to_folders.py data/digits
_base_ = '../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py'

img_size = 56
patch_size = 4
model = dict(
    backbone=dict(img_size=img_size, patch_size=patch_size),
    neck=dict(num_patches=(img_size // patch_size)**2, patch_size=patch_size),
    head=dict(patch_size=patch_size))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAttentionMap'),
    dict(
        type='AMTRandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.35, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='AMTRandomFlip', prob=0.5),
    dict(
        type='AMTMaskGenerator',
        input_size=img_size,
        mask_patch_size=patch_size,
        model_patch_size=patch_size,
        mask_ratio=0.75,
        throw_ratio=0.10,
        random_mask_ratio=0.75,
        throw_mode='least_first',
        mask_power=0.0,  # as _base_/amt_mae_pipeline.py
        ramp_refreshes=4),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
