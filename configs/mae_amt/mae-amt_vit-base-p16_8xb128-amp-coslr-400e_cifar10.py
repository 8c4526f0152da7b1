# MAE-AMT, ViT-B/16, cifar10, the ImageNet-1K recipe (400 epochs, throw 0.10, mask 0.75,
# refresh after epochs 40, 80, ...) on images upscaled to 224 as the AMT authors did.
# Baseline beside it: mae_vit-base-p16_8xb128-amp-coslr-400e_cifar10.py
# Data: ../_base_/datasets/cifar10_pretrain.py.
_base_ = [
    './mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py', '../_base_/datasets/cifar10_pretrain.py'
]

data_preprocessor = dict(to_rgb=False)  # the loader yields RGB arrays
train_dataloader = dict(
    batch_size=128,
    # the ImageNet-1K pipeline without its loading step: CIFAR yields decoded arrays
    dataset=dict(_delete_=True, **_base_.pretrain_dataset, pipeline=_base_.amt_train_pipeline[1:]))
# 8 x 128 = 1024 images per step: the recipe's lr (1.5e-4 per 256) at this batch size.
optim_wrapper = dict(optimizer=dict(lr=1.5e-4 * 1024 / 256))
auto_scale_lr = dict(base_batch_size=1024)
