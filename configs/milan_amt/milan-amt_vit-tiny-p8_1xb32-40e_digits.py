# MILAN-AMT at the demo's size on the digits: MILAN's teacher, target and prompting decoder, with
# AMT's mask instead of the teacher's: everything of ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py
# (random masking for 4 epochs, then the student's own [CLS] attention refreshed every 4 epochs;
# the 0.10 least attended thrown, 0.75 masked), the loss on the masked patches only. The teacher
# is the self-made one of ../_base_/digits_feature_teacher.py.
# Baseline beside it: milan_vit-tiny-p8_1xb32-40e_digits.py.
_base_ = ['../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py', '../_base_/digits_feature_teacher.py']

model = dict(
    type='MILANAMT',
    neck=dict(type='AMTMILANPretrainDecoder', predict_feature_dim={{_base_.teacher_dims}}),
    head={{_base_.feature_head}},
    target_generator={{_base_.teacher}})
# Panels show pixel reconstructions; MILAN predicts features.
default_hooks = dict(amt_refresh=dict(num_panels=0))
