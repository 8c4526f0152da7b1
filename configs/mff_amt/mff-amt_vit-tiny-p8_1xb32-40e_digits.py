# MFF-AMT at the demo's size: the tiny ViT (4 blocks, levels 1 and 3 fused) on the handwritten
# digits, everything else as ../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py.
# Baseline beside it: mff_vit-tiny-p8_1xb32-40e_digits.py. Make the data first:
#   python tools/dataset_converters/digits_to_folders.py data/digits
_base_ = '../demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py'

model = dict(type='MFFAMT', backbone=dict(type='AMTMFFViT', out_indices=[1, 3]))
