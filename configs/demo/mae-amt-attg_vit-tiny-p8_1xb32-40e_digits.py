# MAE with AttG's attention-guided loss (Sick et al., WACV 2025) from AMT's map: the model,
# data, schedule and attention loop of mae-amt_vit-tiny-p8_1xb32-40e_digits.py, but masking
# stays MAE's (0.75 at random, nothing thrown) and the map only weights each masked patch's
# pixel loss by exp(m / T), T = 1 (m: the last block's [CLS] attention over the patch,
# min-max normalised per image; every weight 1 until the first refresh). The control that
# tells whether AMT's map pays through the loss or through the masking policy; measured in
# docs/does-amt-help.md (round 5). Make the data first:
#   python tools/dataset_converters/digits_to_folders.py data/digits
_base_ = './mae-amt_vit-tiny-p8_1xb32-40e_digits.py'

# The base's pipeline (loading, the aligned crop and flip), its AMTMaskGenerator turned into MAE's
# masking with AttG's loss weights: nothing thrown, 0.75 masked at random (throw_mode='next' and
# no ramp keep the draw of the measured runs), the weights packed for the loss.
train_pipeline = _base_.train_pipeline[:-2] + [
    dict(
        _base_.train_pipeline[-2],
        throw_ratio=0.0,
        throw_mode='next',
        mask_power=0.0,
        ramp_refreshes=0,
        loss_weight_temperature=1.0),
    dict(type='PackInputs', algorithm_keys=['patch_weight']),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
