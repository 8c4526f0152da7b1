# Linear probe on CIFAR-10, images upscaled from 32 to 224 px as the AMT authors did, so the
# encoder sees its pre-training resolution. Same protocol as ImageNet-1K (frozen encoder,
# BN + linear on CLS, LARS, 90 epochs) with 8 x 128 images and the MAE lr rule
# lr = 0.1 x batch / 256. Data: mmpretrain's CIFAR10 reads the python batches in data/cifar10.
_base_ = './vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'

num_classes = 10
# mmpretrain's CIFAR arrays are RGB already (no BGR -> RGB swap); ImageNet statistics, as in
# pre-training.
data_preprocessor = dict(num_classes=num_classes, to_rgb=False)

train_pipeline = [
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='CIFAR10',
        data_root='data/cifar10',
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='CIFAR10',
        data_root='data/cifar10',
        split='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(head=dict(num_classes=num_classes))
optim_wrapper = dict(optimizer=dict(lr=0.1 * 8 * 128 / 256))
