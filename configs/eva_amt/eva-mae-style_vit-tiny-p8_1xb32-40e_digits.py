# mmpretrain's own EVA (0.75 random masking, nothing thrown) with everything else of
# eva-amt-mae-style_vit-tiny-p8_1xb32-40e_digits.py (the same self-made teacher, a MAE encoder).
_base_ = ['../demo/mae_vit-tiny-p8_1xb32-40e_digits.py', '../_base_/digits_feature_teacher.py']

model = dict(
    type='EVA',
    neck=dict(predict_feature_dim={{_base_.teacher_dims}}),
    head={{_base_.feature_head}},
    target_generator={{_base_.teacher}})
