"""The harness checks its whole request before any run starts, and never lets two runs share a
work folder."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmamt.analysis import Variant, check_request, parse_variant, run_variants
from mmamt.analysis.compare import LOCK_FILE, exclusive_work_dir

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMT = osp.join(REPO, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py')
MAE = osp.join(REPO, 'configs', 'demo', 'mae_vit-tiny-p8_1xb32-20e_synthetic.py')


@pytest.fixture
def data(synthetic_root):
    return str(synthetic_root / 'imagenet')


def _refused(tmp_path, data, variants, match, seeds=(0, ), epochs=2):
    """run_variants refuses with ``match`` and has started nothing (no work dir at all)."""
    work = tmp_path / 'work'
    with pytest.raises(ValueError, match=match):
        run_variants(variants, data, str(work), epochs, list(seeds), jobs=2)
    assert not work.exists()


def test_a_seed_given_twice_is_refused_not_counted_twice(tmp_path, data):
    _refused(
        tmp_path,
        data, [Variant('amt', AMT)],
        r'seed\(s\) \[0\] given more than once',
        seeds=(0, 0))


def test_missing_or_empty_data_is_refused(tmp_path, data):
    _refused(tmp_path, str(tmp_path / 'nowhere'), [Variant('amt', AMT)], 'has no train/ folder')
    (tmp_path / 'empty' / 'train' / 'cat').mkdir(parents=True)
    (tmp_path / 'empty' / 'val').mkdir()
    _refused(tmp_path, str(tmp_path / 'empty'), [Variant('amt', AMT)],
             r'train/ has class folders without images \(cat\)')


@pytest.mark.parametrize(
    'override,match',
    [
        # a key that is neither in the config nor an argument of the class it builds
        ('optim_wrapper.optimizer.lrr=1e-3', r"override optim_wrapper.optimizer.lrr=0.001: "
         r"optim_wrapper.optimizer has no 'lrr'"),
        ('train_cfg.max_epoch=3', r"train_cfg has no 'max_epoch'"),
        ('mask_generator.mask_ratoi=0.5', r"AMTMaskGenerator has no argument 'mask_ratoi' \(it has "
         r'input_size'),
        ('refresh_hook.intervall=2', r"AttentionRefreshHook has no argument 'intervall'"),
        ('object_map=yes', r"override object_map='yes': must be true or false"),
        ('refresh_hook.stop_epoch=1', r'stop_epoch=1 must be an integer >= 2'),
        ('refresh_hook.map_source=NoSuchMap', r"map_source.type='NoSuchMap' is not a registered "
         r'map source'),
        ('refresh_hook.map_source.layers=[7]', r'map_source.layers=\[7\] of CLSAttentionMap: 7 '
         r'must be an integer in \[-4, 3\]'),
        # values the classes refuse
        ('mask_generator.throw_mode=most', r"variant 'bad'.*throw_mode"),
        ('mask_generator.map_norm=softmax', r"variant 'bad'.*AMTMaskGenerator: "
         r"map_norm='softmax' must be one of"),
        # a setting that moved from the hook to the generator names where it went
        ('refresh_hook.map_norm=max', r'default_hooks.amt_refresh.map_norm has moved to '
         r'train_dataloader.dataset.pipeline.AMTMaskGenerator.map_norm'),
    ])
def test_bad_override_is_refused_naming_variant_and_key(tmp_path, data, override, match):
    _refused(tmp_path, data, [Variant('good', AMT), parse_variant([f'bad={AMT}', override])], match)


def test_amt_override_on_a_baseline_and_missing_config_are_refused(tmp_path, data):
    _refused(tmp_path, data, [Variant('mae', MAE, {'mask_generator.throw_mode': 'least'})],
             'has no AMTMaskGenerator')
    _refused(tmp_path, data, [Variant('gone', str(tmp_path / 'gone.py'))], 'does not exist')


def test_object_map_needs_object_masks_and_an_amt_pipeline(tmp_path, data):
    bare = tmp_path / 'bare'
    (bare / 'train' / 'cat').mkdir(parents=True)
    (bare / 'val' / 'cat').mkdir(parents=True)
    from PIL import Image
    for split in ('train', 'val'):
        Image.new('RGB', (64, 64)).save(bare / split / 'cat' / 'a.png')
    _refused(tmp_path, str(bare), [parse_variant([f'o={AMT}', 'object_map=true'])],
             r'override object_map=True: no object mask for .*a.png')
    _refused(tmp_path, data, [parse_variant([f'o={MAE}', 'object_map=true'])],
             'has no LoadAttentionMap')
    check_request([parse_variant([f'o={AMT}', 'object_map=true'])], data, 4, [0])


def test_valid_overrides_pass(data):
    # keys new to the config but arguments of the class it builds are fine (--cfg-options)
    check_request([
        parse_variant([
            f'a={AMT}', 'model.backbone.drop_path_rate=0.1', 'mask_generator.throw_mode=least',
            'refresh_hook.interval=2', 'train_dataloader.batch_size=8'
        ]),
        parse_variant([
            f'p={AMT}', 'refresh_hook.map_source=PatchAttentionMap',
            'refresh_hook.map_source.layers=[-1,-2]'
        ])
    ], data, 4, [0, 1])


def test_two_comparisons_never_share_a_work_dir(tmp_path):
    work = str(tmp_path / 'work')
    with exclusive_work_dir(work):
        assert open(osp.join(work, LOCK_FILE)).read() == str(os.getpid())
        with pytest.raises(
                RuntimeError, match=f'in use by another comparison \\(pid '
                f'{os.getpid()}\\)'):
            with exclusive_work_dir(work):
                pass
    assert not osp.exists(osp.join(work, LOCK_FILE))
    # the lock of a killed comparison (its process gone) is taken over
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    with open(osp.join(work, LOCK_FILE), 'w') as f:
        f.write(str(dead.pid))
    with exclusive_work_dir(work):
        assert open(osp.join(work, LOCK_FILE)).read() == str(os.getpid())


def test_tool_refuses_in_one_line_before_training(tmp_path, data):
    work = tmp_path / 'work'
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'analysis_tools', 'compare_pretrain.py'), data, '--variant',
        f'amt={AMT}', '--epochs', '2', '--seeds', '0', '0', '--jobs', '2', '--work-dir',
        str(work)
    ],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'))
    assert proc.returncode == 2
    assert 'error: --seeds [0, 0]: seed(s) [0] given more than once' in proc.stderr
    assert 'Traceback' not in proc.stderr and not work.exists()
