# Linear probe on CIFAR-100 (32 -> 224 px), as for CIFAR-10; data in data/cifar100.
_base_ = './vit-base-p16_8xb128-linear-coslr-90e_cifar10-224px.py'

num_classes = 100
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
val_dataloader = dict(dataset=dict(type='CIFAR100', data_root='data/cifar100'))
test_dataloader = val_dataloader
model = dict(head=dict(num_classes=num_classes))
