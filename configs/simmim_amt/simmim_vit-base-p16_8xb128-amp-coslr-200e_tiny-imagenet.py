# Plain SimMIM-ViT baseline, ViT-B/16,
# Tiny ImageNet upscaled to 224: the STL-10 config with the other data
# set (every image under train/, labels unused).
# Beside it: simmim-amt_vit-base-p16_8xb128-amp-coslr-200e_tiny-imagenet.py.
# Data layout: data/tiny-imagenet/train/<wnid>/*.JPEG
# (tools/dataset_converters/tiny_imagenet_to_folders.py)
_base_ = './simmim_vit-base-p16_8xb128-amp-coslr-200e_stl10.py'

train_dataloader = dict(
    dataset=dict(data_root='data/tiny-imagenet', ann_file='', data_prefix='train'))
