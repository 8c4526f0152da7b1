# Plain MAE baseline (mmpretrain's recipe unchanged, 0.75 random masking) beside MAE-AMT.
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'

# mmengine 0.10.7 passes the `_scope_` that `mmpretrain::` inheritance adds to the inherited
# collate_fn on to the function (tools/train.py also resolves it: resolve_scoped_collate_fns).
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
