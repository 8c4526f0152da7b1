# Plain MAE baseline, ViT-B/16, cifar10, the ImageNet-1K recipe on images upscaled to 224,
# beside mae-amt_vit-base-p16_8xb128-amp-coslr-400e_cifar10.py.
# Data layout: data/cifar10/cifar-10-batches-py/ (the python version, extracted; nothing is
# downloaded)
_base_ = './mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py'

train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.2, 1.0),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
data_preprocessor = dict(to_rgb=False)  # the loader yields RGB arrays
train_dataloader = dict(
    batch_size=128,
    dataset=dict(
        _delete_=True,
        type='CIFAR10',
        data_root='data/cifar10',
        split='train',
        download=False,
        pipeline=train_pipeline))
# 8 x 128 = 1024 images per step: the recipe's lr (1.5e-4 per 256) at this batch size.
optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * 1024 / 256))
auto_scale_lr = dict(base_batch_size=1024)
