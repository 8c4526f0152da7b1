"""The transfer comparison's bookkeeping and the scenes converter, on synthetic scenes."""
import json
import os
import os.path as osp

import pytest

from mmamt.analysis.scenes import scenes_to_folders
from mmamt.analysis.transfer import Encoder, check_request, format_table, run_transfer, summarize


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmamt.testing import make_scenes_layout, make_synthetic_dataset
    root = tmp_path_factory.mktemp('scenes')
    synthetic = make_synthetic_dataset(str(root / 'synthetic'), num_train=4, num_val=2)
    return make_scenes_layout(synthetic, str(root / 'scenes-a'))


def test_scenes_to_folders_writes_class_folders_with_masks(scenes, tmp_path):
    out = tmp_path / 'cls'
    meta = scenes_to_folders(scenes, str(out))
    assert (meta['num_train'], meta['num_val']) == (4, 2)
    images = sorted(p.relative_to(out).as_posix() for p in out.glob('train/*/*.png'))
    masks = sorted(p.relative_to(out / 'masks').as_posix() for p in out.glob('masks/train/*/*.png'))
    assert len(images) == 4 and images == masks
    assert len(os.listdir(out / 'train')) == 10  # every class folder, also the empty ones
    stamp = osp.getmtime(out / images[0])
    scenes_to_folders(scenes, str(out))  # the same scenes: reused, not rewritten
    assert osp.getmtime(out / images[0]) == stamp
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'x.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='not written by scenes_to_folders'):
        scenes_to_folders(scenes, str(foreign))


def test_request_is_checked_before_any_run(scenes, tmp_path):
    enc = [Encoder('random')]
    with pytest.raises(ValueError, match='--tasks'):
        check_request(enc, scenes, ['cls'], [0])
    with pytest.raises(ValueError, match='more than once'):
        check_request(enc * 2, scenes, ['det'], [0])
    with pytest.raises(ValueError, match='lacks'):
        check_request(enc, str(tmp_path), ['seg'], [0])


def test_failed_run_is_named_and_finished_run_reused(scenes, tmp_path):
    bad = tmp_path / 'broken.pth'
    bad.write_bytes(b'not a checkpoint')
    encoders = [Encoder('random'), Encoder('broken', str(bad))]
    work = tmp_path / 'work'
    lines = []
    out = run_transfer(
        encoders,
        scenes,
        str(work),
        tasks=['seg'],
        seeds=[0],
        max_iters={'seg': 2},
        log=lines.append)
    assert [f['encoder'] for f in out['failed']] == ['broken']
    assert not (work / 'seg' / 'broken' / 'seed0' / 'result.json').exists()
    assert 'broken' not in out['summary'] or not out['summary']['broken']
    assert 'failed: seed 0' in out['table'] and 'broken' in out['table']
    miou = out['summary']['random']['seg']['mIoU']
    assert 0 <= miou['mean'] <= 100 and miou['values'] == [miou['mean']]
    result = json.loads((work / 'seg' / 'random' / 'seed0' / 'result.json').read_text())
    assert result['coverage'] is None and result['train_seconds'] > 0
    again = run_transfer(
        encoders[:1],
        scenes,
        str(work),
        tasks=['seg'],
        seeds=[0],
        max_iters={'seg': 2},
        log=lines.append)
    assert any('reusing' in line for line in lines)
    assert again['summary']['random']['seg']['mIoU'] == miou


def test_table_keeps_seeds_apart_from_failures():
    runs = [
        dict(
            encoder=dict(name='a'),
            task='det',
            seed=s,
            train_seconds=1.,
            test_seconds=1.,
            metrics=dict(bbox_AP=v, mask_AP=v / 2, bbox_AP50=v, mask_AP50=v))
        for s, v in ((0, 10.), (1, 20.))
    ]
    summary = summarize(runs, ['a'], ['det', 'seg'])
    assert summary['a']['det']['bbox_AP']['mean'] == 15.
    assert summary['a']['det']['bbox_AP']['std'] == pytest.approx(7.071, abs=1e-3)
    table = format_table(summary, [dict(task='seg', encoder='a', seed=0, returncode=1, log='L')])
    assert '15.0 ± 7.1' in table and '- (failed: seed 0)' in table and '2 / 0' in table


def test_a_folder_of_another_spec_is_cleared_before_resuming(tmp_path):
    from mmamt.analysis.transfer import clear_stale_run
    run = tmp_path / 'run'
    run.mkdir()
    spec = dict(task='seg', work_dir=str(run), max_iters=320, threads=1)
    (run / 'spec.json').write_text(json.dumps(dict(spec, threads=4)))
    (run / 'iter_80.pth').write_bytes(b'x')
    assert not clear_stale_run(spec)  # the same run (threads aside): its checkpoint resumes
    assert (run / 'iter_80.pth').exists()
    assert clear_stale_run(dict(spec, max_iters=100))  # another schedule: never resumed
    assert not run.exists()


def test_an_interrupted_run_resumes_from_its_checkpoint(scenes, tmp_path, monkeypatch):
    """A run stopped after iteration 2 of 4 (no result written) goes on from iter_2.pth when the
    comparison is run again, instead of starting over or being reported."""
    from mmengine.runner import IterBasedTrainLoop

    from mmamt.analysis.transfer import make_specs, run_one, write_json
    work = tmp_path / 'work'
    spec = make_specs([Encoder('random')], scenes, str(work), ['seg'], [0], {'seg': 4})[0]
    os.makedirs(spec['work_dir'])
    write_json(osp.join(spec['work_dir'], 'spec.json'), spec)  # as the comparison writes it
    run_iter = IterBasedTrainLoop.run_iter

    def stop_after_two(loop, data_batch):
        if loop.runner.iter == 2:
            raise KeyboardInterrupt('stopped after iteration 2')
        run_iter(loop, data_batch)

    monkeypatch.setattr(IterBasedTrainLoop, 'run_iter', stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_one(spec)
    monkeypatch.undo()
    run = spec['work_dir']
    assert osp.isfile(osp.join(run, 'iter_2.pth')) and not osp.isfile(osp.join(run, 'result.json'))
    lines = []
    out = run_transfer([Encoder('random')],
                       scenes,
                       str(work),
                       tasks=['seg'],
                       seeds=[0],
                       max_iters={'seg': 4},
                       log=lines.append)
    assert not out['failed'] and not any('cleared' in line for line in lines)
    with open(osp.join(run, 'train.log'), encoding='utf-8') as f:
        log = f.read()
    # The second process (its log is train.log) loaded iter_2.pth and trained iterations 3 and 4
    assert 'Load checkpoint from' in log and 'iter_2.pth' in log
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Saving checkpoint at 3 iterations' in log and 'at 2 iterations' not in log
    assert osp.isfile(osp.join(run, 'iter_4.pth'))
    assert 0 <= out['summary']['random']['seg']['mIoU']['mean'] <= 100
