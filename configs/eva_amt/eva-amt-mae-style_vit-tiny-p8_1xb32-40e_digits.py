# EVA-AMT at the demo's size on the handwritten digits: everything of
# ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py, with a teacher's features (cosine loss,
# mmpretrain's MIMHead) as the target instead of pixels. No trained CLIP has the demo's 8x8 grid
# at 64 px, so the teacher is self-made: the encoder of a MAE run on the same digits
# (../_base_/digits_feature_teacher.py says how to make it).
# Baseline beside it: eva-mae-style_vit-tiny-p8_1xb32-40e_digits.py.
_base_ = ['../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py', '../_base_/digits_feature_teacher.py']

model = dict(
    type='EVAAMT',
    neck=dict(predict_feature_dim={{_base_.teacher_dims}}),
    head={{_base_.feature_head}},
    target_generator={{_base_.teacher}})
# Panels show pixel reconstructions; EVA predicts features.
default_hooks = dict(amt_refresh=dict(num_panels=0))
