# SimMIM-AMT, ViT-B/16, cifar10 upscaled to 224, the ImageNet-1K recipe
# (200 epochs, mask 0.44 at random, throw the 0.10 least attended, refresh 40/40).
# Baseline: simmim_vit-base-p16_8xb128-amp-coslr-200e_cifar10.py.
# Data: ../_base_/datasets/cifar10_pretrain.py.
_base_ = [
    './simmim-amt_vit-base-p16_8xb256-amp-coslr-200e_in1k.py',
    '../_base_/datasets/cifar10_pretrain.py'
]

model = dict(data_preprocessor=dict(to_rgb=False))
train_dataloader = dict(
    batch_size=128,
    # the ImageNet-1K pipeline without its loading step: CIFAR yields decoded arrays
    dataset=dict(_delete_=True, **_base_.pretrain_dataset, pipeline=_base_.train_pipeline[1:]))
# 8 x 128 = 1024 images per step: 1e-4 x 1024 / 512
optim_wrapper = dict(optimizer=dict(lr=1e-4 * 1024 / 512))
auto_scale_lr = dict(base_batch_size=1024)
