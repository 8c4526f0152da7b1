# UperNet on ADE20K from a MAE-style ViT-B/16 encoder: mmseg's MAE recipe (Feature2Pyramid,
# UPerHead + FCNHead, layer decay 0.65, AdamW 1e-4, 160k iterations, 8 GPUs x 2 images).
#
# MAE-AMT, SimMIM-AMT and the plain MAE / SimMIM baselines all use this config; only the
# converted checkpoint differs:
#   python tools/model_converters/convert_amt.py PRETRAIN.pth work_dirs/pretrain_mmseg.pth \
#       --to mmseg
#   python tools/train.py configs/benchmarks/mmseg/upernet_vit-b-p16_8xb2-160k_ade20k-512x512.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/pretrain_mmseg.pth
_base_ = 'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'

custom_imports = dict(imports=['mmamt.downstream.seg'], allow_failed_imports=False)

# The `convert_amt.py --to mmseg` output.
pretrained = 'work_dirs/pretrain_mmseg.pth'

model = dict(
    # upstream passes the checkpoint as `model.pretrained` (deprecated); init_cfg instead
    pretrained=None,
    # mmseg's MAE loads a checkpoint non-strictly (an mmpretrain one loads nothing, silently);
    # MAEStrict refuses a checkpoint that does not fill every weight but the documented new
    # ones. Its name contains "MAE", so LayerDecayOptimizerConstructor still applies.
    # init_values=1.0 (upstream's value) makes the new layer-scale gammas start as identity.
    backbone=dict(
        type='MAEStrict', init_values=1.0, init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# Upstream's `fp16 = dict(loss_scale='dynamic')` is an mmseg 0.x key that 1.x ignores: this
# trains in fp32 like upstream's 1.x config does. Pass `--amp` to tools/train.py for AMP.
fp16 = None
