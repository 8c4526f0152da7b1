# Fine-tuning on Tiny ImageNet (64 -> 224 px, 200 classes), as for STL-10. Data layout: see
# vit-base-p16_8xb128-linear-coslr-90e_tiny-imagenet-224px.py (class folders under
# data/tiny-imagenet).
_base_ = './vit-base-p16_8xb128-coslr-100e_stl10-224px.py'

num_classes = 200
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root='data/tiny-imagenet', data_prefix='train'))
val_dataloader = dict(dataset=dict(data_root='data/tiny-imagenet', data_prefix='val'))
test_dataloader = val_dataloader
model = dict(head=dict(num_classes=num_classes))
