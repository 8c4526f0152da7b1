# Plain MaskFeat baseline, ViT-B/16, ImageNet-1K, 300 epochs: mmpretrain's recipe unchanged
# (HOG targets, BEiT block masking of 78 of 196 patches), beside
# maskfeat-amt_vit-base-p16_8xb256-amp-coslr-300e_in1k.py.
_base_ = 'mmpretrain::maskfeat/maskfeat_vit-base-p16_8xb256-amp-coslr-300e_in1k.py'

# mmengine 0.10.7 passes the `_scope_` that `mmpretrain::` inheritance adds to the inherited
# collate_fn on to the function (tools/train.py also resolves it: resolve_scoped_collate_fns).
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
