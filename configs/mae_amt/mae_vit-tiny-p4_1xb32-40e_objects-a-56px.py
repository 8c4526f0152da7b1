# mmpretrain's own MAE on the paper's 14x14 token grid, on objects-a: the baseline of
# mae-amt_vit-tiny-p4_1xb32-40e_objects-a-56px.py (everything else identical).
_base_ = './mae_vit-tiny-p4_1xb32-40e_digits-56px.py'

data_root = 'data/objects-a/'
train_dataloader = dict(dataset=dict(data_root=data_root))
