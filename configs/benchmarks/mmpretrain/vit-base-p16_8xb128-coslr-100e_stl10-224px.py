# Fine-tuning on STL-10 (96 -> 224 px), as for CIFAR-10. Data layout: see
# vit-base-p16_8xb128-linear-coslr-90e_stl10-224px.py (class folders under data/stl10).
_base_ = './vit-base-p16_8xb128-coslr-100e_cifar10-224px.py'

num_classes = 10
data_preprocessor = dict(num_classes=num_classes, to_rgb=True)  # files are read as BGR
# The CIFAR-10 pipelines, reading files first.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=[103.53, 116.28, 123.675],
        fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/stl10',
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root='data/stl10',
        data_prefix='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(head=dict(num_classes=num_classes))
