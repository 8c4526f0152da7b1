# Plain MAE baseline (mmpretrain's recipe unchanged, 0.75 random masking) beside MAE-AMT.
_base_ = 'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'
