# Linear probe on Tiny ImageNet (64 -> 224 px, 200 classes), as for STL-10. Class-folder tree:
#   data/tiny-imagenet/train/<wnid>/*.JPEG   (tiny-imagenet-200/train/<wnid>/images/* moved up)
#   data/tiny-imagenet/val/<wnid>/*.JPEG     (tiny-imagenet-200/val/images/* sorted into <wnid>
#                                             folders by val/val_annotations.txt)
_base_ = './vit-base-p16_8xb128-linear-coslr-90e_stl10-224px.py'

num_classes = 200
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(dataset=dict(data_root='data/tiny-imagenet', data_prefix='train'))
val_dataloader = dict(dataset=dict(data_root='data/tiny-imagenet', data_prefix='val'))
test_dataloader = val_dataloader
model = dict(head=dict(num_classes=num_classes))
