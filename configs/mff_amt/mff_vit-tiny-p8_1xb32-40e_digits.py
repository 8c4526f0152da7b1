# mmpretrain's own MFF (0.75 random masking, nothing thrown) with everything else of
# mff-amt_vit-tiny-p8_1xb32-40e_digits.py.
_base_ = '../demo/mae_vit-tiny-p8_1xb32-40e_digits.py'

model = dict(type='MFF', backbone=dict(type='MFFViT', out_indices=[1, 3]))
