# mmpretrain's own EVA (0.75 random masking, nothing thrown) with everything else of
# eva-amt-mae-style_vit-tiny-p8_1xb32-40e_digits.py (the same teacher file).
_base_ = '../demo/mae_vit-tiny-p8_1xb32-40e_digits.py'

model = dict(
    type='EVA',
    neck=dict(predict_feature_dim=32),
    head=dict(
        _delete_=True,
        type='MIMHead',
        loss=dict(type='CosineSimilarityLoss', shift_factor=2.0, scale_factor=2.0)),
    target_generator=dict(
        type='FrozenCLIPTeacher', tokenizer_path='checkpoints/tiny_clip_64px_p8.pth'))
