# The self-made feature teacher of the demo-size EVA and MILAN configs on the digits: the encoder
# of a MAE run on the same digits (the demo's tiny ViT, 96-d, 4 blocks, patch 8, 64 px), frozen,
# and the cosine-similarity head that regresses its features. The comparison harness writes the
# checkpoint with
#   python tools/analysis_tools/compare_pretrain.py data/digits --epochs 120 --seeds 0 \
#       --work-dir work_dirs/teacher --variant mae=configs/demo/mae_vit-tiny-p8_1xb32-40e_digits.py
# (or pass --cfg-options model.target_generator.checkpoint=PATH).
teacher = dict(
    type='FrozenViTTeacher',
    checkpoint='work_dirs/teacher/mae/seed0/epoch_120.pth',
    encoder=dict(
        type='AMTMAEViT',
        arch=dict(embed_dims=96, num_layers=4, num_heads=3, feedforward_channels=384),
        img_size=64,
        patch_size=8))
teacher_dims = 96
feature_head = dict(  # replaces the pixel head of the MAE configs
    _delete_=True,
    type='MIMHead',
    loss=dict(type='CosineSimilarityLoss', shift_factor=2.0, scale_factor=2.0))
