# MILAN-AMT, ViT-B/16, ImageNet-1K, 400 epochs: mmpretrain's MILAN recipe with only what AMT
# changes. The mask follows the student's own refreshed [CLS] attention (the MAE-AMT guidance of
# ../_base_/amt_mae_pipeline.py: 0.75 masked, 0.10 thrown, 0.75 random masking before the first
# refresh; maps refreshed after epochs 40, 80, ...) instead of the CLIP teacher's; thrown patches
# leave the encoder and the prompting decoder; the cosine loss covers the masked patches only.
# Teacher weights: see milan_vit-base-p16_16xb256-amp-coslr-400e_in1k.py.
_base_ = [
    'mmpretrain::milan/milan_vit-base-p16_16xb256-amp-coslr-400e_in1k.py',
    '../_base_/amt_mae_pipeline.py',
]
custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

data_preprocessor = dict(type='AMTDataPreprocessor')  # token split on the CPU
model = dict(
    type='MILANAMT',
    backbone=dict(type='AMTMAEViT'),
    # ViT-B's width: mmpretrain 1.2.0's config leaves ViT-L's 1024 (as the baseline config says).
    neck=dict(type='AMTMILANPretrainDecoder', embed_dim=768),
    # CLIPGenerator kept as its checkpoint, frozen; teacher_tokens='kept' would drop the thrown
    # patches from its forward too (mmamt/models/utils/teachers.py, docs/amt-for-your-mim.md).
    target_generator=dict(
        type='FrozenCLIPTeacher', tokenizer_path='checkpoints/clip_vit_base_16.pth.tar'))
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.amt_train_pipeline}}),
    collate_fn=dict(_delete_=True, type='default_collate'))
# The attention loop in default_hooks: custom_hooks stay free (see configs/mae_amt).
default_hooks = dict(amt_refresh=dict(type='AttentionRefreshHook', start_epoch=40, interval=40))
