# MAE with AttG's attention-guided loss (Sick et al., WACV 2025) from AMT's map: the model,
# data, schedule and attention loop of mae-amt_vit-tiny-p8_1xb32-40e_digits.py, but masking
# stays MAE's (0.75 at random, nothing thrown) and the map only weights each masked patch's
# pixel loss by exp(m / T), T = 1 (m: the last block's [CLS] attention over the patch,
# min-max normalised per image; every weight 1 until the first refresh). The control that
# tells whether AMT's map pays through the loss or through the masking policy; measured in
# docs/does-amt-help.md (round 5). Make the data first:
#   python tools/dataset_converters/digits_to_folders.py data/digits
_base_ = './mae-amt_vit-tiny-p8_1xb32-40e_digits.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAttentionMap'),
    dict(
        type='AMTRandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.35, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='AMTRandomFlip', prob=0.5),
    dict(
        type='AMTMaskGenerator',
        input_size={{_base_.img_size}},
        mask_patch_size={{_base_.patch_size}},
        model_patch_size={{_base_.patch_size}},
        mask_ratio=0.75,
        throw_ratio=0.0,
        random_mask_ratio=0.75,
        mask_power=0.0,
        loss_weight_temperature=1.0),
    dict(type='PackInputs', algorithm_keys=['patch_weight']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
