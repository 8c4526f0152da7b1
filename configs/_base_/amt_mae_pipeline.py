# The MAE-AMT training pipeline at 224 px: mmpretrain's MAE pipeline (RandomResizedCrop 0.2-1,
# flip) with the attention map carried along, then the AMT token mask (0.75 random masking before
# the first refresh). Guidance as measured best on real images (docs/does-amt-help.md): the 10%
# least attended patches are thrown first (no encoder token, no decoder token, no loss), then
# 0.75 of the image is masked at random among the kept ones (throw_mode='least_first',
# mask_power=0): the encoder sees 30 of 196 patches (MAE: 49), the loss keeps MAE's 147 targets;
# the throw ramps up over 4 refreshes. The paper's ratios, fastest and worse in short runs:
# mask_ratio=0.45, throw_ratio=0.40. The reference code's guidance (mask the most attended, throw
# the next): throw_mode='next', mask_power=1.0, ramp_refreshes=0.
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
        mask_ratio=0.75,
        throw_ratio=0.10,
        random_mask_ratio=0.75,
        throw_mode='least_first',
        mask_power=0.0,
        ramp_refreshes=4),
    dict(type='PackInputs'),
]
