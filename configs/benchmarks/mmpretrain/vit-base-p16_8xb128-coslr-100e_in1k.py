# Fine-tuning of a MAE-style ViT-B/16 encoder on ImageNet-1K, the MAE protocol: AdamW lr 2e-3
# for 8 x 128 images with layer-wise lr decay 0.65, drop path 0.1, RandAugment, Mixup / CutMix,
# label smoothing, 5 warm-up + 95 cosine epochs; global average pooling with a new norm
# (backbone ln2), so the pre-trained final norm ln1 is not used. From mmpretrain's MAE benchmark.
#
# MAE-AMT, SimMIM-AMT and the baselines share this config; only the checkpoint differs:
#   python tools/model_converters/convert_amt.py PRETRAIN.pth work_dirs/pretrain_mmpretrain.pth \
#       --to mmpretrain
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py'

custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

# The `convert_amt.py --to mmpretrain` output.
checkpoint = 'work_dirs/pretrain_mmpretrain.pth'

# SimMIM-AMT encoders with layer scale: add layer_scale_init_value=1e-5 (any value > 0) to the
# backbone so that it has the gamma parameters the checkpoint fills.
model = dict(backbone=dict(init_cfg=dict(checkpoint=checkpoint)))
