# The MAE-AMT training pipeline at 224 px: mmpretrain's MAE pipeline (RandomResizedCrop 0.2-1,
# flip) with the attention map carried along, then the AMT token mask (0.45 masked, 0.40 thrown;
# 0.75 random masking before the first refresh). The guidance ramps up over the first 4 refreshes
# (ramp_refreshes=4; the reference's full-strength guidance from the 4th on), the best variant
# measured in docs/does-amt-help.md; ramp_refreshes=0 is the reference code.
amt_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAttentionMap'),
    dict(
        type='AMTRandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='AMTRandomFlip', prob=0.5),
    dict(
        type='AMTMaskGenerator',
        input_size=224,
        mask_patch_size=16,
        model_patch_size=16,
        mask_ratio=0.45,
        throw_ratio=0.40,
        random_mask_ratio=0.75,
        ramp_refreshes=4),
    dict(type='PackInputs'),
]
