# Plain MAE baseline, ViT-B/16,
# CIFAR-100 upscaled to 224: the CIFAR-10 config with the other data set.
# Beside it: mae-amt_vit-base-p16_8xb128-amp-coslr-400e_cifar100.py.
# Data layout: data/cifar100/cifar-100-python/ (the python version, extracted; nothing is
# downloaded)
_base_ = './mae_vit-base-p16_8xb128-amp-coslr-400e_cifar10.py'

train_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
