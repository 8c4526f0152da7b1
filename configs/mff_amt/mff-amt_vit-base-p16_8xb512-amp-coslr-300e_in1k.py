# MFF-AMT, ViT-B/16, ImageNet-1K, 300 epochs: mmpretrain's MFF recipe with only what AMT changes
# (the MAE-AMT guidance of ../_base_/amt_mae_pipeline.py: 0.75 masked, 0.10 thrown, 0.75 random
# masking before the first refresh; maps refreshed after epochs 40, 80, ...).
# Baseline beside it: mff_vit-base-p16_8xb512-amp-coslr-300e_in1k.py (same crop, see there).
_base_ = [
    'mmpretrain::mff/mff_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
    '../_base_/amt_mae_pipeline.py',
]
custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

data_preprocessor = dict(type='AMTDataPreprocessor')  # token split on the CPU
model = dict(
    type='MFFAMT', backbone=dict(type='AMTMFFViT'), neck=dict(type='AMTMAEPretrainDecoder'))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.amt_train_pipeline}}),
    collate_fn=dict(_delete_=True, type='default_collate'))
# The attention loop in default_hooks: custom_hooks stay free (see configs/mae_amt).
default_hooks = dict(amt_refresh=dict(type='AttentionRefreshHook', start_epoch=40, interval=40))
