# MaskFeat-AMT at demo size on the handwritten digits: the demo's tiny ViT (4 blocks, 96
# channels) at 56 px with 4-px patches, because mmpretrain's HOGGenerator always cuts its HOG
# map into a 14x14 grid (HOG cells of 2 px, a Gaussian window per patch: the ViT-B recipe's
# 8-px cells and 16-px window scaled by 4 / 16). Masking and throwing as the ViT-B config
# (0.40 masked, 0.26 thrown, 0.40 random before the first refresh); optimizer, schedule and
# refreshes (every 4 epochs) as ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py.
# Baseline beside it: maskfeat_vit-tiny-p4_1xb32-40e_digits-56px.py. Make the data first:
#   python tools/dataset_converters/digits_to_folders.py data/digits
_base_ = '../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py'

img_size = 56
patch_size = 4
model = dict(
    _delete_=True,
    type='MaskFeatAMT',
    data_preprocessor=dict(
        type='AMTDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='AMTMaskFeatViT',
        arch=dict(embed_dims=96, num_layers=4, num_heads=3, feedforward_channels=384),
        img_size=img_size,
        patch_size=patch_size),
    neck=dict(
        type='LinearNeck',
        in_channels=96,
        out_channels=108,  # 3 colours x 9 bins x 2 x 2 cells per patch
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0)),
    head=dict(type='MIMHead', loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    target_generator=dict(type='HOGGenerator', nbins=9, pool=2, gaussian_window=patch_size))

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
        mask_ratio=0.40,
        throw_ratio=0.26,
        random_mask_ratio=0.40),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# Panels show pixel reconstructions; MaskFeat predicts HOG features.
default_hooks = dict(amt_refresh=dict(num_panels=0))
