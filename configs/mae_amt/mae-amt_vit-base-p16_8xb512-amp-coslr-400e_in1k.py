# MAE-AMT, ViT-B/16, ImageNet-1K, 400 epochs: mmpretrain's MAE recipe, with only what AMT changes:
# attention-driven throwing (0.10) and masking (0.75), maps refreshed after epochs 40, 80, ...
# Baseline for side-by-side runs: mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py beside this file.
_base_ = [
    'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py',
    '../_base_/amt_mae_pipeline.py',
]
custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

# AMTDataPreprocessor: splits the token masks on the CPU and moves them with the images, so that
# the training step never waits for the GPU.
data_preprocessor = dict(type='AMTDataPreprocessor')
model = dict(
    type='MAEAMT', backbone=dict(type='AMTMAEViT'), neck=dict(type='AMTMAEPretrainDecoder'))

# mmengine 0.10.7 passes the `_scope_` that `mmpretrain::` inheritance adds to the inherited
# collate_fn on to the function (tools/train.py also resolves it: resolve_scoped_collate_fns).
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.amt_train_pipeline}}),
    collate_fn=dict(_delete_=True, type='default_collate'))

# The attention loop. In default_hooks (dicts merge on inheritance, lists replace), so a config
# that sets custom_hooks keeps AMT; default_hooks = dict(amt_refresh=dict(enable=False)) turns
# it off.
default_hooks = dict(amt_refresh=dict(type='AttentionRefreshHook', start_epoch=40, interval=40))
