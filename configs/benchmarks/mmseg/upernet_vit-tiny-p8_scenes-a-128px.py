# Transfer benchmark on real-object scenes: the MAE UperNet recipe of
# upernet_vit-b-p16_8xb2-160k_ade20k-512x512.py (Feature2Pyramid, UPerHead + FCNHead, layer decay
# 0.65, AdamW) on the demo's tiny pre-training encoder (96-d, 4 layers, 3 heads, patch 8,
# pre-trained at 64 px) and scenes-a (../shared/data/scenes-a: semantic label PNGs, 0 background,
# k + 1 class k). The background is a class here (11 classes, reduce_zero_label=False): the
# scenes are mostly background, and an encoder has to tell objects from it. MAEStrict resizes
# the 8x8 positional embeddings of the checkpoint to the 16x16 grid of 128 px.
#   ln -s /path/to/scenes-a data/scenes-a
#   python tools/model_converters/convert_amt.py PRETRAIN.pth work_dirs/scenes_mmseg.pth --to mmseg
#   python tools/train.py configs/benchmarks/mmseg/upernet_vit-tiny-p8_scenes-a-128px.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/scenes_mmseg.pth
# (model.backbone.init_cfg=None: the random-initialisation floor).
# tools/analysis_tools/compare_transfer.py runs it for several encoders and seeds
# (docs/transfer.md).
_base_ = './upernet_vit-demo-p8_1xb4-40iter_synthetic-ade-64x64.py'

crop_size = (128, 128)
embed_dims = 96
pretrained = 'work_dirs/scenes_mmseg.pth'
data_root = 'data/scenes-a'
classes = ('background', 'bird', 'bug', 'sea_animal', 'reptile', 'hoofed', 'carnivore', 'flower',
           'tree', 'fruit', 'vegetable')  # label k + 1 is line k of classes.txt
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        img_size=crop_size,
        embed_dims=embed_dims,
        num_heads=3,
        mlp_ratio=4,
        init_cfg=dict(checkpoint=pretrained)),
    neck=dict(embed_dim=embed_dims),
    decode_head=dict(
        in_channels=[embed_dims] * 4, channels=48, num_classes=len(classes), norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=embed_dims, channels=48, num_classes=len(classes), norm_cfg=norm_cfg))

dataset = dict(
    type='BaseSegDataset',
    data_root=data_root,
    metainfo=dict(
        classes=classes,
        palette=[[0, 0, 0], [220, 20, 60], [119, 11, 32], [0, 0, 142], [0, 60, 100], [250, 170, 30],
                 [100, 170, 30], [220, 220, 0], [0, 130, 80], [255, 77, 255], [120, 60, 200]]),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=False)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=(512, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(512, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _delete_=True,
        **dataset,
        data_prefix=dict(img_path='images/train', seg_map_path='masks/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _delete_=True,
        **dataset,
        data_prefix=dict(img_path='images/val', seg_map_path='masks/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# 320 iterations at batch 8: 1.7 epochs of the 1,500 train images, 4 (seg) to 10 (det) min on
# one CPU core (the 2-core comparison budget of docs/transfer.md). Measured there: it tells
# pre-training from random init on bbox AP only; mask AP and mIoU need a longer schedule (--iters).
max_iters = 320
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=40),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=40, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50), checkpoint=dict(interval=max_iters // 4, max_keep_ckpts=1))
