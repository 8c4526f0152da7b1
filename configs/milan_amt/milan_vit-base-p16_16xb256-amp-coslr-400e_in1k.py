# Plain MILAN baseline, ViT-B/16, ImageNet-1K, 400 epochs: mmpretrain's recipe (the CLIP ViT-B/16
# teacher's features as the target, its [CLS] attention as the keep probability of each patch),
# beside milan-amt_vit-base-p16_16xb256-amp-coslr-400e_in1k.py. The teacher's weights come from a
# local file, never from the network at run time: put OpenMMLab's CLIP ViT-B/16 checkpoint (the
# URL in mmpretrain's config, .../mmselfsup/1.x/target_generator_ckpt/clip_vit_base_16.pth.tar)
# at the path below, or pass --cfg-options model.target_generator.tokenizer_path=PATH.
_base_ = 'mmpretrain::milan/milan_vit-base-p16_16xb256-amp-coslr-400e_in1k.py'

model = dict(
    # mmpretrain 1.2.0's config leaves the decoder at MILANPretrainDecoder's default embed_dim
    # (1024, ViT-L's): with the ViT-B encoder its first step fails (768 vs 1024 features).
    neck=dict(embed_dim=768),
    target_generator=dict(tokenizer_path='checkpoints/clip_vit_base_16.pth.tar'))
# mmengine 0.10.7 passes the `_scope_` that `mmpretrain::` inheritance adds to the inherited
# collate_fn on to the function (tools/train.py also resolves it: resolve_scoped_collate_fns).
train_dataloader = dict(collate_fn=dict(_delete_=True, type='default_collate'))
