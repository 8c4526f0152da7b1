# SimMIM-AMT demo: a tiny ViT (patch 8, 64 px, 16-px mask patches) on the built-in synthetic set,
# on CPU in minutes; AMT (44% masked at random, the 10% least attended thrown, MAE-AMT's guidance)
# from epoch 5, maps refreshed after epochs 4, 8, 12 and 16.
_base_ = './mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py'

model = dict(
    _delete_=True,
    type='SimMIMAMT',
    data_preprocessor=dict(
        type='AMTDataPreprocessor',  # token split on the CPU, with the images
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='AMTSimMIMViT',
        arch=dict(embed_dims=96, num_layers=4, num_heads=3, feedforward_channels=384),
        img_size={{_base_.img_size}},
        patch_size={{_base_.patch_size}},
        drop_path_rate=0.1,
        layer_scale_init_value=0.1),
    neck=dict(type='AMTSimMIMLinearDecoder', in_channels=96, encoder_stride={{_base_.patch_size}}),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=False,
        patch_size={{_base_.patch_size}},
        loss=dict(type='PixelReconstructionLoss', criterion='L1')))

mask_generator = dict(
    type='AMTMaskGenerator',
    input_size={{_base_.img_size}},
    mask_patch_size=16,
    model_patch_size={{_base_.patch_size}},
    mask_ratio=0.44,
    throw_ratio=0.10,  # MAE-AMT's guidance, as the ViT-B config (the reference: 0.26, 'next')
    random_mask_ratio=0.44,
    throw_mode='least_first',
    mask_power=0.0,
    ramp_refreshes=4,
    rounding='ceil')  # SimMIM rounds up: 8 of 16 mask patches
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAttentionMap'),
    dict(
        type='AMTRandomResizedCrop',
        scale={{_base_.img_size}},
        crop_ratio_range=(0.67, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='AMTRandomFlip', prob=0.5),
    mask_generator,
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=1e-3, betas=(0.9, 0.999)), clip_grad=dict(max_norm=5.0))
