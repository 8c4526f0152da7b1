"""The comparison harness: schedule scaling, overrides, and real runs through the probe."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmamt.analysis import (Variant, build_run_config, format_attention_table, format_table,
                            parse_variant, probe, scale_schedule, summarize)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMT = osp.join(REPO, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py')
MAE = osp.join(REPO, 'configs', 'demo', 'mae_vit-tiny-p8_1xb32-20e_synthetic.py')


def test_scale_schedule_keeps_the_shape_of_the_schedule():
    cfg = Config.fromfile(AMT)
    scale_schedule(cfg, 40)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.begin, warmup.end) == (0, 4)
    assert (cosine.begin, cosine.end, cosine.T_max) == (4, 40, 36)
    hook = cfg.default_hooks.amt_refresh
    assert (hook.start_epoch, hook.interval) == (8, 8)
    assert cfg.train_cfg.max_epochs == 40
    cfg = Config.fromfile(AMT)
    scale_schedule(cfg, 2)
    hook = cfg.default_hooks.amt_refresh
    assert (hook.start_epoch, hook.interval) == (1, 1)  # never below one epoch
    assert cfg.param_scheduler[1].end == 2 and cfg.param_scheduler[0].end >= 1
    with pytest.raises(ValueError, match='epochs'):
        scale_schedule(cfg, 0)


def test_variant_overrides(tmp_path):
    variant = parse_variant([
        f'least={AMT}', 'mask_generator.throw_mode=least', 'mask_generator.mask_power=0.5',
        'optim_wrapper.optimizer.lr=1e-4'
    ])
    assert variant.options == {
        'mask_generator.throw_mode': 'least',
        'mask_generator.mask_power': 0.5,
        'optim_wrapper.optimizer.lr': 1e-4
    }
    cfg = build_run_config(variant, str(tmp_path / 'data'), str(tmp_path / 'run'), 10, seed=3)
    gen = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'AMTMaskGenerator')
    assert (gen.throw_mode, gen.mask_power) == ('least', 0.5)
    assert cfg.optim_wrapper.optimizer.lr == 1e-4
    assert cfg.randomness.seed == 3 and cfg.train_cfg.max_epochs == 10
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'data')
    # the demo config draws 4 panels after each refresh; harness runs draw none
    assert cfg.default_hooks.amt_refresh.num_panels == 0
    with pytest.raises(KeyError, match='AMTMaskGenerator'):
        build_run_config(
            Variant('mae', MAE, {'mask_generator.throw_mode': 'least'}), str(tmp_path),
            str(tmp_path / 'r'), 2, 0)
    # refresh_hook.<arg> reaches the AttentionRefreshHook, after the schedule was scaled
    cfg = build_run_config(
        parse_variant([f'max={AMT}', 'mask_generator.map_norm=max', 'refresh_hook.interval=3']),
        str(tmp_path), str(tmp_path / 'r'), 10, 0)
    gen = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'AMTMaskGenerator')
    assert (gen.map_norm, cfg.default_hooks.amt_refresh.interval) == ('max', 3)
    # one level into a component argument: a type name becomes its dict
    cfg = build_run_config(
        parse_variant([
            f'p={AMT}', 'refresh_hook.map_source=PatchAttentionMap',
            'refresh_hook.map_source.layers=[-1,-2]'
        ]), str(tmp_path), str(tmp_path / 'r'), 10, 0)
    assert cfg.default_hooks.amt_refresh.map_source == dict(
        type='PatchAttentionMap', layers=[-1, -2])
    with pytest.raises(KeyError, match='default_hooks.amt_refresh has no AttentionRefreshHook'):
        build_run_config(
            Variant('mae', MAE, {'refresh_hook.interval': 3}), str(tmp_path), str(tmp_path / 'r'),
            2, 0)
    # object_map=true: the oracle map right after LoadAttentionMap, at the model's patch grid;
    # stop_epoch scales with the schedule
    cfg = build_run_config(
        parse_variant([f'o={AMT}', 'object_map=true']), str(tmp_path), str(tmp_path / 'r'), 10, 0)
    types = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert types[types.index('LoadAttentionMap') + 1] == 'ObjectMaskAsMap'
    assert cfg.train_dataloader.dataset.pipeline[types.index('ObjectMaskAsMap')].grid == 8
    src = Config.fromfile(AMT)
    src.default_hooks.amt_refresh.stop_epoch = 16
    scale_schedule(src, 10)
    assert (src.default_hooks.amt_refresh.start_epoch,
            src.default_hooks.amt_refresh.stop_epoch) == (2, 8)
    with pytest.raises(ValueError, match='NAME=CONFIG'):
        parse_variant([AMT])
    with pytest.raises(ValueError, match='variant name'):
        Variant('a b', AMT)


def test_probe_reads_cls_and_mean_patch_and_loads_strictly(synthetic_root, tmp_path):
    data = str(synthetic_root / 'imagenet')
    first, again = probe(MAE, None, data, seed=0), probe(MAE, None, data, seed=0)
    assert first == again  # deterministic: seeded init, fixed probe
    assert set(first['top1']) == {'cls', 'mean'}
    assert (first['num_train'], first['num_val']) == (40, 12)
    assert 0 <= first['top1']['cls'] <= 100 and first['majority_baseline'] > 0
    # A checkpoint of another architecture fails loudly instead of probing random weights.
    from mmamt.analysis import build_encoder_model
    model = build_encoder_model(MAE)
    state = {k: v for k, v in model.state_dict().items() if 'decoder' not in k}
    path = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), path)
    with pytest.raises(RuntimeError, match='missing keys'):
        probe(MAE, path, data)


def test_summary_and_table():

    def run(name, seed, cls, mean, sec, tokens, epochs=4):
        return dict(
            variant=dict(name=name, config='c.py', options={}),
            seed=seed,
            epochs=epochs,
            probe=dict(top1=dict(cls=cls, mean=mean), majority_baseline=25.0),
            seconds_per_epoch=sec,
            total_seconds=sec * epochs * 10,
            final_loss=0.5,
            encoder_tokens=tokens,
            epoch_tokens=[tokens])

    gflops = dict(mae=dict(total=6.0), amt=dict(total=4.5))
    summary = summarize([
        run('mae', 0, 60, 62, 2.0, 17),
        run('mae', 1, 70, 64, 2.2, 17),
        run('amt', 0, 50, 55, 1.5, 11, epochs=6)
    ],
                        gflops=gflops)
    mae = summary['variants']['mae']
    assert mae['top1_cls']['mean'] == 65 and mae['top1_cls']['std'] == pytest.approx(7.0711, 1e-3)
    assert mae['top1_both']['values'] == [61.0, 67.0]
    assert summary['variants']['amt']['top1_cls']['std'] == 0.0
    table = format_table(summary)
    assert ('| mae | 2 | 4 | 65.0 ± 7.1 | 63.0 ± 1.4 | 64.0 ± 4.2 | 6 (1.00x) | 1.4 ± 0.1 | '
            '2.10 ± 0.14 | 17.0 (17.0) |') in table
    assert '| amt | 1 | 6 | 50.0 | 55.0 | 52.5 | 4.5 (0.75x) | 1.5 | 1.50 |' in table
    assert '| majority class |' in table


def test_attention_table_shows_first_and_last_refresh_mean_over_seeds():

    def refresh(epoch, ratio, visible):
        return dict(
            epoch=epoch,
            entropy=0.8,
            object_share=0.3 * ratio,
            area_share=0.3,
            ratio=ratio,
            visible_object=visible,
            masked_object=0.5,
            thrown_object=0.1)

    def run(name, attention):
        return dict(variant=dict(name=name), attention=attention)

    runs = [
        run('amt', [refresh(4, 2.0, 0.10), refresh(8, 3.0, 0.04)]),
        run('amt', [refresh(4, 2.2, 0.20), refresh(8, 2.0, 0.06)]),
        run('mae', None),  # no bank: not in the table
        run('blind', [dict(epoch=4, entropy=0.9, object_share=None, area_share=None, ratio=None)])
    ]  # no object masks: not in the table
    table = format_attention_table(runs)
    assert '| amt | 2 (4..8) | 2.10 -> 2.50 | 0.80 -> 0.80 | 30% | 15% -> 5% | 50% -> 50% |' \
        in table
    assert 'mae' not in table and 'blind' not in table
    assert format_attention_table([run('mae', None)]) == ''


def test_probe_data_errors_name_the_folder(tmp_path):
    from mmamt.analysis.probe import load_split
    (tmp_path / 'val' / 'a').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no 'train' split folder"):
        load_split(str(tmp_path), 'train', 8)
    with pytest.raises(FileNotFoundError, match='no images under .*val'):
        load_split(str(tmp_path), 'val', 8)
