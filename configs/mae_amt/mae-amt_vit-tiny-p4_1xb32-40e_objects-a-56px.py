# MAE-AMT on the paper's 14x14 token grid (56 px, 4-px patches), on objects-a: 2,000 train / 500
# val real cut-out objects of 10 classes on photo and texture backgrounds, 64 px, class folders
# (resized to 56 by the crop). Everything else as mae-amt_vit-tiny-p4_1xb32-40e_digits-56px.py.
# Baseline beside it: mae_vit-tiny-p4_1xb32-40e_objects-a-56px.py. objects-a is not shipped; put
# (or link) its train/ and val/ folders under data/objects-a, or give the comparison harness its
# folder (tools/analysis_tools/compare_pretrain.py DATA_ROOT).
_base_ = './mae-amt_vit-tiny-p4_1xb32-40e_digits-56px.py'

data_root = 'data/objects-a/'
train_dataloader = dict(dataset=dict(data_root=data_root))
