# MaskFeat-AMT, ViT-B/16, ImageNet-1K, 300 epochs: mmpretrain's MaskFeat recipe with only what
# AMT changes. MaskFeat masks 40% of the patches (78 of 196); AMT masks as many and throws 26%
# (the SimMIM-AMT share of the reference), the encoder sees [CLS] + visible + mask tokens, and
# the HOG loss covers the masked patches only. Before the first refresh (epoch 40) it masks 40%
# at random, patch by patch (upstream: in blocks) and throws nothing; maps refreshed after
# epochs 40, 80, ... Baseline beside it: maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k.py.
_base_ = 'mmpretrain::maskfeat/maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k.py'
custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

model = dict(
    type='MaskFeatAMT',
    data_preprocessor=dict(type='AMTDataPreprocessor'),
    backbone=dict(type='AMTMaskFeatViT'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAttentionMap'),
    dict(
        type='AMTRandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.5, 1.0),
        interpolation='bicubic'),
    dict(type='AMTRandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='AMTMaskGenerator',
        input_size=224,
        mask_patch_size=16,
        model_patch_size=16,
        mask_ratio=0.40,
        throw_ratio=0.26,
        random_mask_ratio=0.40),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline), collate_fn=dict(_delete_=True, type='default_collate'))
# The attention loop in default_hooks: custom_hooks stay free (see configs/mae_amt).
default_hooks = dict(amt_refresh=dict(type='AttentionRefreshHook', start_epoch=40, interval=40))
