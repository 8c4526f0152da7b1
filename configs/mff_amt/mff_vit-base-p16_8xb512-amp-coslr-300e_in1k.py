# Plain MFF baseline, ViT-B/16, ImageNet-1K, 300 epochs: mmpretrain's MFF recipe (0.75 random
# masking, levels 1, 3, 5, 7, 9, 11 fused) beside
# mff-amt_vit-base-p16_8xb512-amp-coslr-300e_in1k.py.
# One change from upstream, made in both configs of the pair: MAE's crop (RandomResizedCrop
# 0.2-1 and flip) instead of MFF's Resize + RandomCrop(padding=4), because the AMT transforms
# carry the attention map through MAE's crop and flip; the pair then differs in AMT only.
_base_ = 'mmpretrain::mff/mff_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
# mmengine 0.10.7 passes the `_scope_` that `mmpretrain::` inheritance adds to the inherited
# collate_fn on to the function (tools/train.py also resolves it: resolve_scoped_collate_fns).
train_dataloader = dict(
    dataset=dict(pipeline=train_pipeline), collate_fn=dict(_delete_=True, type='default_collate'))
