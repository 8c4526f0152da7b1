# Linear probe on STL-10 (96 -> 224 px), as for CIFAR-10. STL-10 is read as a class-folder
# tree (mmpretrain CustomDataset, classes numbered in alphabetical folder order):
#   data/stl10/train/<class>/*.png   the 5,000 labelled training images
#   data/stl10/test/<class>/*.png    the 8,000 test images
# e.g. decode train_X.bin / train_y.bin (and test_*) of the binary release into
# <class_names.txt entry>/<index>.png; the unlabelled split is not used.
_base_ = './vit-base-p16_8xb128-linear-coslr-90e_cifar10-224px.py'

num_classes = 10
# Files are read as BGR.
data_preprocessor = dict(num_classes=num_classes, to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
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
