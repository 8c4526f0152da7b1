# MAE-AMT on real handwriting: the demo's tiny ViT (patch 8, 64 px) on scikit-learn's 1,797
# digit scans (tools/dataset_converters/digits_to_folders.py data/digits). 40 epochs; random
# masking (0.75) for the first 4, then the attention maps are refreshed every 4 epochs and AMT
# throws (0.10, the least attended) and masks (0.75) patches; the guidance the configs ship and why:
# docs/does-amt-help.md.
_base_ = './mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py'

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
    # AMT from 10% of the run, a refresh every 10%.
    amt_refresh=dict(start_epoch=4, interval=4),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=2))
