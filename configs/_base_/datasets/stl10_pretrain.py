# STL-10's train and unlabeled images for pre-training, upscaled to 224 px by the pipeline's
# crop, labels unused. Data layout: data/stl10/{train,test}/<class>/*.png,
# data/stl10/unlabeled/*.png and data/stl10/meta/pretrain.txt listing train/ and unlabeled/
# images (one relative path a line; tools/dataset_converters/stl10_to_folders.py).
pretrain_dataset = dict(
    type='CustomDataset', data_root='data/stl10', ann_file='meta/pretrain.txt', with_label=False)
