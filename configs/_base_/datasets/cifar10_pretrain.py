# CIFAR-10's training images for pre-training, upscaled to 224 px by the pipeline's crop, as the
# AMT authors did. Data layout: data/cifar10/cifar-10-batches-py/ (the python version,
# extracted; nothing is downloaded). mmpretrain's CIFAR10 yields decoded RGB arrays: a config's
# pipeline starts after the loading step and its data preprocessor keeps the channel order.
pretrain_dataset = dict(type='CIFAR10', data_root='data/cifar10', split='train', download=False)
