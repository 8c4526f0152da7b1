# Plain SimMIM-ViT baseline on stl10 upscaled to 224 (44% random masking, no throwing),
# beside simmim-amt_vit-base-p16_8xb128-amp-coslr-200e_stl10.py.
_base_ = './simmim_vit-base-p16_8xb256-amp-coslr-200e_in1k.py'

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.67, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.mask_generator}},
    dict(type='PackInputs'),
]
model = dict(data_preprocessor=dict(to_rgb=True))
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/stl10',
        ann_file='meta/pretrain.txt',
        with_label=False,
        pipeline=train_pipeline))
# 8 x 128 = 1024 images per step: 1e-4 x 1024 / 512
optim_wrapper = dict(optimizer=dict(lr=1e-4 * 1024 / 512))
auto_scale_lr = dict(base_batch_size=1024)
