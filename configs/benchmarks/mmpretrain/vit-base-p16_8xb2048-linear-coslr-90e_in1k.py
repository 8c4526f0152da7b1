# Linear probe of a MAE-style ViT-B/16 encoder on ImageNet-1K, the MAE protocol: frozen encoder,
# CLS token through BatchNorm (no affine) + linear head, LARS lr 6.4 for 8 x 2048 images,
# 10 warm-up + 80 cosine epochs. All settings come from mmpretrain's MAE benchmark.
#
# MAE-AMT, SimMIM-AMT and the MAE / SimMIM baselines share this config (and the other
# benchmarks here); only the converted checkpoint differs:
#   python tools/model_converters/convert_amt.py PRETRAIN.pth work_dirs/pretrain_mmpretrain.pth \
#       --to mmpretrain
#   python tools/train.py \
#       configs/benchmarks/mmpretrain/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/pretrain_mmpretrain.pth
_base_ = 'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'

custom_imports = dict(imports=['mmamt'], allow_failed_imports=False)

# The `convert_amt.py --to mmpretrain` output (keys under "backbone.", read with that prefix).
checkpoint = 'work_dirs/pretrain_mmpretrain.pth'

# SimMIM-AMT encoders with layer scale: add layer_scale_init_value=1e-5 (any value > 0) to the
# backbone so that it has the gamma parameters the checkpoint fills.
model = dict(backbone=dict(init_cfg=dict(checkpoint=checkpoint)))
