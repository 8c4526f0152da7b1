# Mask R-CNN with a plain ViT-B/16 backbone on COCO, ViTDet recipe (Li et al., ECCV 2022):
# windowed attention (14x14) with global attention in layers 2, 5, 8, 11, decomposed relative
# positions, a simple feature pyramid from the stride-16 map, LN in the RoI heads, large-scale
# jitter (LSJ) 1024x1024 crops, AdamW lr 1e-4, weight decay 0.1, layer-wise lr decay 0.7,
# drop path 0.1, 100 epochs at 64 images per iteration. ViTDet reports 51.6 box AP /
# 45.7 mask AP with MAE ViT-B.
#
# The backbone starts from a converted pre-training checkpoint (MAE-AMT, SimMIM-AMT or MAE):
#   python tools/model_converters/convert_amt.py work_dirs/<pretrain>/epoch_400.pth \
#       work_dirs/<pretrain>/vitdet_backbone.pth --to mmdet
# and loads it strictly: every encoder tensor is used, only the relative-position tables start
# new (zero) and cls_token is dropped; the log line "loaded N/N pre-trained tensors" says so.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
]
custom_imports = dict(imports=['mmamt.downstream.det'], allow_failed_imports=False)

pretrained = 'work_dirs/pretrain/vitdet_backbone.pth'  # written by convert_amt.py --to mmdet
image_size = (1024, 1024)
norm_cfg = dict(type='LN2d', eps=1e-6, requires_grad=True)

model = dict(
    # LSJ crops are padded to 1024x1024 so every batch has the grid the rel-pos tables expect.
    data_preprocessor=dict(
        pad_size_divisor=32,
        batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    backbone=dict(
        _delete_=True,
        type='ViTDetBackbone',
        arch='b',
        img_size=image_size,
        patch_size=16,
        pretrain_img_size=224,
        window_size=14,
        global_attn_indexes=(2, 5, 8, 11),
        use_rel_pos=True,
        drop_path_rate=0.1,
        final_norm=True,
        with_cp=False,  # True trades speed for memory (gradient checkpointing per layer)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        _delete_=True,
        type='SimpleFPN',
        backbone_channel=768,
        in_channels=[192, 384, 768, 768],
        out_channels=256,
        num_outs=5,
        norm_cfg=norm_cfg),
    # ViTDet: two RPN convs (no norm), 4 conv + 1 fc box head and the mask head with LN.
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', conv_out_channels=256, norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# Test like ViTDet: the long side resized to 1024 and padded to 1024x1024 (the base's test
# pipeline resizes to 1333x800, a grid the global layers were not trained at).
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# 100 epochs: the base repeats COCO train 4 times per epoch for 25 epochs (batch 64 = 32 GPUs x 2
# images; ViTDet's 184375 iterations x 64 images / 118k images). The lr drops at 22 and 24
# (x4 = epochs 88 and 96, ViTDet's iterations 163889 and 177546).
max_epochs = 25
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(
        type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[22, 24], gamma=0.1)
]

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    constructor='ViTLayerDecayOptimizerConstructor',
    paramwise_cfg=dict(num_layers=12, decay_rate=0.7),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))

# NOTE: `auto_scale_lr` scales the lr when the total batch differs from 64 (--auto-scale-lr).
auto_scale_lr = dict(enable=False, base_batch_size=64)
