# EVA-AMT at the demo's size on the handwritten digits: everything of
# ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py, with a teacher's features (cosine loss,
# mmpretrain's MIMHead) as the target instead of pixels. The teacher is a CLIP checkpoint with an
# 8x8 grid at 64 px and 32 output channels; there is no such trained CLIP, so this config is
# for trying the plumbing: `python -m mmamt.testing.tiny_teacher
# checkpoints/tiny_clip_64px_p8.pth` writes a random one (its features teach nothing).
# Baseline beside it: eva-mae-style_vit-tiny-p8_1xb32-40e_digits.py.
_base_ = '../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py'

model = dict(
    type='EVAAMT',
    neck=dict(predict_feature_dim=32),
    head=dict(
        _delete_=True,
        type='MIMHead',
        loss=dict(type='CosineSimilarityLoss', shift_factor=2.0, scale_factor=2.0)),
    target_generator=dict(
        type='FrozenCLIPTeacher', tokenizer_path='checkpoints/tiny_clip_64px_p8.pth'))
# Panels show pixel reconstructions; EVA predicts features.
default_hooks = dict(amt_refresh=dict(num_panels=0))
