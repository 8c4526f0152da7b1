# SimMIM-AMT at the demo's size on the handwritten digits: the model, pipeline and optimizer of
# ../demo/simmim-amt_vit-tiny-p8_1xb32-20e_synthetic.py (the tiny ViT, 4 blocks, 96 channels,
# patch 8, 64 px, SimMIM's linear decoder and L1 pixel loss, 16-px mask patches: a 4x4 mask grid,
# the ViT-B recipe's 32-px patches on 224 px scaled to 64 px; once AMT starts, 44% masked at
# random and the 10% least attended thrown (MAE-AMT's guidance, ramped over 4 refreshes), 44%
# random masking before the first refresh; AdamW at 1e-3, grad clip 5, drop path 0.1, layer
# scale 0.1), with the data, 40-epoch schedule and refreshes (every 4 epochs) of
# ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py. Measured: docs/amt-for-your-mim.md.
# Baseline beside it: simmim_vit-tiny-p8_1xb32-40e_digits.py. Make the data first:
#   python tools/dataset_converters/digits_to_folders.py data/digits
_base_ = '../demo/simmim-amt_vit-tiny-p8_1xb32-20e_synthetic.py'

data_root = 'data/digits/'
train_dataloader = dict(dataset=dict(data_root=data_root))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=4,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=36,
        by_epoch=True,
        begin=4,
        end=40,
        convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=40)
default_hooks = dict(
    amt_refresh=dict(start_epoch=4, interval=4),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=2))
