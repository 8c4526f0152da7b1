# Fine-tuning on CIFAR-10, images upscaled from 32 to 224 px as the AMT authors did. Same
# protocol as ImageNet-1K (layer decay 0.65, RandAugment, Mixup / CutMix, 100 epochs, 8 x 128
# images); the test images are resized to 224 px. Data: mmpretrain's CIFAR10 in data/cifar10.
_base_ = './vit-base-p16_8xb128-coslr-100e_in1k.py'

num_classes = 10
# mmpretrain's CIFAR arrays are RGB already; ImageNet statistics, as in pre-training.
data_preprocessor = dict(num_classes=num_classes, to_rgb=False)

train_pipeline = [
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
    dict(type='Resize', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CIFAR10',
        data_root='data/cifar10',
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CIFAR10',
        data_root='data/cifar10',
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(head=dict(num_classes=num_classes))
