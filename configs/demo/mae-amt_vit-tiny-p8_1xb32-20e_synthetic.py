# MAE-AMT demo: a tiny ViT (patch 8, 64 px) on the built-in synthetic set, on CPU in minutes.
# Random masking (0.75) for 4 epochs, then the attention maps are refreshed after epochs 4, 8,
# 12 and 16 and AMT throws the 10% least attended patches and masks 0.75 of the image at random
# among the rest (as _base_/amt_mae_pipeline.py). Make the data first:
#   python tools/dataset_converters/make_synthetic_data.py data/synthetic
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

img_size = 64
patch_size = 8
data_root = 'data/synthetic/imagenet/'

model = dict(
    type='MAEAMT',
    data_preprocessor=dict(
        type='AMTDataPreprocessor',  # token split on the CPU, with the images
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='AMTMAEViT',
        arch=dict(embed_dims=96, num_layers=4, num_heads=3, feedforward_channels=384),
        img_size=img_size,
        patch_size=patch_size),
    neck=dict(
        type='AMTMAEPretrainDecoder',
        num_patches=(img_size // patch_size)**2,
        patch_size=patch_size,
        embed_dim=96,
        decoder_embed_dim=64,
        decoder_depth=2,
        decoder_num_heads=4),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=patch_size,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAttentionMap'),
    dict(
        type='AMTRandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.35, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='AMTRandomFlip', prob=0.5),
    dict(
        type='AMTMaskGenerator',
        input_size=img_size,
        mask_patch_size=patch_size,
        model_patch_size=patch_size,
        mask_ratio=0.75,
        throw_ratio=0.10,
        random_mask_ratio=0.75,
        throw_mode='least_first',
        mask_power=0.0,  # as _base_/amt_mae_pipeline.py
        ramp_refreshes=4),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        with_label=False,
        pipeline=train_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=18,
        by_epoch=True,
        begin=2,
        end=20,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20)
default_hooks = dict(
    # The attention loop; after each refresh, panels of samples 0-3 to every visualizer backend.
    amt_refresh=dict(type='AttentionRefreshHook', start_epoch=4, interval=4, num_panels=4),
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=2))
randomness = dict(seed=0, diff_rank_seed=True)
# The refresh hook's panels go through it (vis_image/amt_<sample>_<epoch>.png).
visualizer = dict(type='AMTVisualizer', vis_backends=[dict(type='LocalVisBackend')])
