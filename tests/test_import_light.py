"""``import mmamt`` is pre-training only: no mmdet, mmseg, compiled mmcv ops or pycocotools.

In the full test environment mmdet and friends are installed, and mmpretrain itself tries
``import mmdet`` (an optional extra layer). So the subprocess simulates the pre-training install
(``make install``, mmcv-lite): importing any of them fails, as it does there, and mmamt must
still import and train a step; every attempt is recorded with whether mmamt's code made it.
"""
import subprocess
import sys
import textwrap

HEAVY = ('mmdet', 'mmseg', 'mmcv.ops', 'pycocotools')

SCRIPT = textwrap.dedent('''
    import importlib.abc
    import os
    import sys
    import traceback

    HEAVY = %r
    attempts = []


    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == h or name.startswith(h + '.') for h in HEAVY):
                # the frame of the import statement: the last one outside importlib and here
                frames = [f for f in traceback.extract_stack()[:-1]
                          if not f.filename.startswith('<frozen')]
                by_mmamt = os.sep + 'mmamt' + os.sep in frames[-1].filename
                attempts.append((name, by_mmamt))
                raise ImportError(f'{name} is not installed (pre-training environment)')
            return None


    sys.meta_path.insert(0, Absent())
    import torch
    import mmamt
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    model = MODELS.build(dict(
        type='MAEAMT',
        backbone=dict(type='AMTMAEViT', arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                                                  feedforward_channels=32),
                      img_size=32, patch_size=8),
        neck=dict(type='AMTMAEPretrainDecoder', num_patches=16, patch_size=8, in_chans=3,
                  embed_dim=16, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
        head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=8,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    from mmamt.datasets import AMTMaskGenerator
    gen = AMTMaskGenerator(input_size=32, mask_patch_size=8, model_patch_size=8)
    samples = []
    for _ in range(2):
        s = DataSample()
        s.set_mask(torch.as_tensor(gen.transform(dict(img=torch.zeros(32, 32, 3).numpy()))['mask']))
        samples.append(s)
    loss = model.loss(torch.rand(2, 3, 32, 32), samples)['loss']
    loss.backward()
    print('LOADED', [m for m in HEAVY if m in sys.modules])
    print('BY_MMAMT', sorted({n for n, by in attempts if by}))
    print('STEP_OK', float(loss) > 0)
''' % (HEAVY, ))


def test_import_mmamt_and_a_pretraining_step_stay_light():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                         check=True).stdout
    assert 'LOADED []' in out and 'BY_MMAMT []' in out and 'STEP_OK True' in out, out


def test_downstream_packages_register_on_their_own():
    code = ('import sys, mmamt.downstream.det; from mmdet.registry import MODELS; '
            "assert MODELS.get('ViTDetBackbone') and 'mmseg' not in sys.modules; "
            'import mmamt.downstream.seg; from mmseg.registry import MODELS as S; '
            "assert S.get('MAEStrict')")
    subprocess.run([sys.executable, '-c', code], check=True)
