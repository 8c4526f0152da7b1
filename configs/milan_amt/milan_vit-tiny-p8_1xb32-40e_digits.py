# mmpretrain's own MILAN at the demo's size on the digits: the encoder keeps 25% of the patches,
# sampled in proportion to the teacher's last-layer [CLS] attention; the prompting decoder
# predicts the teacher's features of every token. Everything else is
# ../demo/mae_vit-tiny-p8_1xb32-40e_digits.py; the teacher is the self-made one of
# ../_base_/digits_feature_teacher.py (a MAE encoder: MILAN's CLIP has no 8x8 grid at 64 px).
# AMT beside it: milan-amt_vit-tiny-p8_1xb32-40e_digits.py.
_base_ = ['../demo/mae_vit-tiny-p8_1xb32-40e_digits.py', '../_base_/digits_feature_teacher.py']

model = dict(
    type='MILAN',
    backbone=dict(type='MILANViT', mask_ratio=0.75),
    neck=dict(type='MILANPretrainDecoder', predict_feature_dim={{_base_.teacher_dims}}),
    head={{_base_.feature_head}},
    target_generator={{_base_.teacher}})
