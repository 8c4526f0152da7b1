"""A tiny MAE-AMT Runner config on the synthetic set, shared by the engine tests."""
import copy

from mmengine.config import Config

IMG, PATCH = 32, 8
#: (image side, model patch, mask patch) per algorithm; MaskFeat's HOG needs a 14x14 grid.
SIZES = dict(
    mae=(IMG, PATCH, PATCH),
    simmim=(IMG, PATCH // 2, PATCH),
    mff=(IMG, PATCH, PATCH),
    eva=(IMG, PATCH, PATCH),
    milan=(IMG, PATCH, PATCH),
    maskfeat=(56, 4, 4))


def tiny_model(algo='mae', teacher=None):
    """A tiny AMT algorithm; ``teacher`` is EVA's or MILAN's CLIP checkpoint
    (``write_tiny_clip``)."""
    preprocessor = dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True)
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
    if algo == 'simmim':
        return dict(
            type='SimMIMAMT',
            data_preprocessor=preprocessor,
            backbone=dict(
                type='AMTSimMIMViT',
                img_size=IMG,
                patch_size=PATCH // 2,
                arch=arch,
                layer_scale_init_value=0.1),
            neck=dict(type='AMTSimMIMLinearDecoder', in_channels=32, encoder_stride=PATCH // 2),
            head=dict(
                type='MAEPretrainHead',
                norm_pix=False,
                patch_size=PATCH // 2,
                loss=dict(type='PixelReconstructionLoss', criterion='L1')))
    if algo == 'maskfeat':
        return dict(
            type='MaskFeatAMT',
            data_preprocessor=preprocessor,
            backbone=dict(type='AMTMaskFeatViT', img_size=56, patch_size=4, arch=arch),
            neck=dict(type='LinearNeck', in_channels=32, out_channels=108),
            head=dict(type='MIMHead', loss=dict(type='PixelReconstructionLoss', criterion='L2')),
            target_generator=dict(type='HOGGenerator', nbins=9, pool=2, gaussian_window=4))
    model = dict(
        type='MAEAMT',
        data_preprocessor=preprocessor,
        backbone=dict(type='AMTMAEViT', img_size=IMG, patch_size=PATCH, arch=arch),
        neck=dict(
            type='AMTMAEPretrainDecoder',
            num_patches=(IMG // PATCH)**2,
            patch_size=PATCH,
            embed_dim=32,
            decoder_embed_dim=32,
            decoder_depth=1,
            decoder_num_heads=2),
        head=dict(
            type='MAEPretrainHead',
            norm_pix=True,
            patch_size=PATCH,
            loss=dict(type='PixelReconstructionLoss', criterion='L2')))
    if algo == 'mff':
        model.update(type='MFFAMT')
        model['backbone'].update(type='AMTMFFViT', out_indices=[0, 1])
    elif algo in ('eva', 'milan'):
        model.update(
            type='EVAAMT' if algo == 'eva' else 'MILANAMT',
            head=dict(type='MIMHead', loss=dict(type='CosineSimilarityLoss')),
            target_generator=dict(type='FrozenCLIPTeacher', tokenizer_path=teacher))
        model['neck']['predict_feature_dim'] = 16
        if algo == 'milan':
            model['neck']['type'] = 'AMTMILANPretrainDecoder'
    return model


def tiny_cfg(data_root,
             work_dir,
             max_epochs=3,
             start_epoch=1,
             interval=1,
             num_workers=2,
             crop=True,
             batch_size=8,
             algo='mae',
             teacher=None):
    """A Runner config of an AMT algorithm at its ``SIZES`` (MAE-AMT: patch 8, 4x4 tokens;
    SimMIM-AMT: patch 4, 8x8 tokens, 8-px mask patches)."""
    img, model_patch, mask_patch = SIZES[algo]
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAttentionMap')]
    if crop:
        pipeline += [
            dict(type='AMTRandomResizedCrop', scale=img, crop_ratio_range=(0.5, 1.0)),
            dict(type='AMTRandomFlip', prob=0.5)
        ]
    else:
        pipeline += [dict(type='Resize', scale=(img, img))]
    pipeline += [
        dict(
            type='AMTMaskGenerator',
            input_size=img,
            mask_patch_size=mask_patch,
            model_patch_size=model_patch,
            mask_ratio=0.5,
            throw_ratio=0.25,
            random_mask_ratio=0.75),
        dict(type='PackInputs'),
    ]
    cfg = dict(
        default_scope='mmpretrain',
        work_dir=str(work_dir),
        model=tiny_model(algo, teacher),
        train_dataloader=dict(
            batch_size=batch_size,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='CustomDataset',
                data_root=str(data_root / 'imagenet'),
                data_prefix='train',
                with_label=False,
                pipeline=pipeline)),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1),
            amt_refresh=dict(
                type='AttentionRefreshHook',
                start_epoch=start_epoch,
                interval=interval,
                batch_size=8,
                num_workers=0)),
        custom_hooks=[],
        randomness=dict(seed=0),
        log_level='WARNING',
    )
    return Config(copy.deepcopy(cfg))


def downstream_pretrain_cfg(data_root, work_dir, patch_size: int):
    """MAE-AMT for the downstream tests: the tiny ViT of their demo configs (64 dims, 4 layers,
    4 heads, 64 px) at ``patch_size``, 2 epochs with one attention refresh in between."""
    cfg = tiny_cfg(data_root, work_dir, max_epochs=2, start_epoch=1, num_workers=0)
    img, grid = 64, 64 // patch_size
    cfg.model.backbone.update(
        img_size=img,
        patch_size=patch_size,
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128))
    cfg.model.neck.update(num_patches=grid * grid, patch_size=patch_size, embed_dim=64)
    cfg.model.head.patch_size = patch_size
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] == 'AMTRandomResizedCrop':
            t['scale'] = img
        if t['type'] == 'AMTMaskGenerator':
            t.update(input_size=img, mask_patch_size=patch_size, model_patch_size=patch_size)
    return cfg
