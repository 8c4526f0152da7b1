"""Entropy and object share of attention banks (tools/analysis_tools/attention_stats.py)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmamt.analysis.attention_stats import (find_bank_files, object_mask_path, object_share,
                                            role_object_shares)
from mmamt.datasets import AttentionBank
from mmamt.datasets.attention_bank import map_entropy
from mmamt.datasets.transforms import AMTMaskGenerator
from ..test_utils.test_faults_io import write_unreadable_files
from ..test_visualization._tiny import load_tool, tiny_files


def test_map_entropy_matches_the_bank_and_orders_maps():
    uniform = np.ones((1, 4, 4))
    peaked = np.zeros((1, 4, 4))
    peaked[0, 1, 2] = 1
    assert map_entropy(uniform)[0] == pytest.approx(1.0, abs=1e-6)
    assert map_entropy(peaked)[0] < 0.05
    bank = AttentionBank(5, (4, 4))
    bank.update(torch.arange(5), torch.rand(5, 4, 4, generator=torch.Generator().manual_seed(0)))
    assert map_entropy(bank.maps).mean() == pytest.approx(bank.statistics()['entropy'], abs=1e-5)


def test_object_share_hot_vs_uniform():
    objects = np.zeros((60, 60), np.uint8)
    objects[:15, :30] = 3  # 1/8 of the image, the top-left two of the 4x4 map's cells
    uniform = np.full((4, 4), 0.7)
    hot = np.zeros((4, 4))
    hot[0, :2] = 1
    half = hot.copy()
    half[3, 3] = 1  # a third of the mass off the objects
    assert object_share(uniform, objects) == pytest.approx(1 / 8)
    assert object_share(hot, objects) == pytest.approx(1.0)
    assert object_share(half, objects) == pytest.approx(2 / 3)
    assert object_share(np.zeros((4, 4)), objects) == pytest.approx(1 / 8)
    with pytest.raises(ValueError, match='attn_map'):
        object_share(np.ones(16), objects)


def test_role_object_shares_follow_the_throw_mode():
    # An object on the left half of a 64-px image (patch 8: an 8x8 grid), the map hot on it.
    objects = np.zeros((64, 64), np.uint8)
    objects[:, :32] = 1
    attn = np.zeros((8, 8), np.float32)
    attn[:, :4] = 1.0
    np.random.seed(0)
    ref = role_object_shares(attn, objects, AMTMaskGenerator(64, 8, 8), 1, draws=20)
    first = role_object_shares(
        attn,
        objects,
        AMTMaskGenerator(64, 8, 8, throw_mode='least_first', mask_power=0.0),
        1,
        draws=20)
    # The reference masks the object and leaves the background visible; 'least_first' throws
    # the background, so the object is what the encoder sees and what the loss predicts.
    assert ref['masked'] > 0.9 and ref['visible'] < 0.1
    assert first['thrown'] < 0.1 and first['visible'] > 0.7 and first['masked'] > 0.7
    # Before the ramp has begun (0 refreshes) the draw ignores the map: about the area share.
    ramped = role_object_shares(
        attn, objects, AMTMaskGenerator(64, 8, 8, ramp_refreshes=4), 0, draws=50)
    assert all(abs(v - 0.5) < 0.15 for v in ramped.values())


def test_object_mask_path_finds_a_masks_tree_beside_the_class_folders(tmp_path):
    img = tmp_path / 'train' / '3' / 'digit_0001.png'
    mask = tmp_path / 'masks' / 'train' / '3' / 'digit_0001.png'
    for p in (img, mask):
        p.parent.mkdir(parents=True)
        p.write_bytes(b'')
    assert object_mask_path(str(img)) == str(mask)
    mask.unlink()
    assert object_mask_path(str(img)) is None


def _hot_maps(root, grid):
    """Maps hot exactly where the ADE label maps have objects, in CustomDataset's order."""
    images = sorted((root / 'imagenet' / 'train').rglob('*.png'))
    maps = []
    for img in images:
        label = np.asarray(Image.open(root / 'ade' / 'annotations' / 'training' / img.name)) > 0
        h, w = label.shape
        cells = label.reshape(grid, h // grid, grid, w // grid).mean(axis=(1, 3))
        maps.append(torch.from_numpy(cells).float())
    return torch.stack(maps)


def test_tool_reports_higher_object_share_for_hot_maps(synthetic_root, tmp_path):
    config, _ = tiny_files(tmp_path, synthetic_root, 'mae')
    hot = _hot_maps(synthetic_root, 4)
    n = len(hot)
    work = tmp_path / 'run'
    uniform_bank = AttentionBank(n, (4, 4))  # as before the first refresh
    uniform_bank.save(str(work / 'amt_bank' / 'epoch_2.pth'))
    hot_bank = AttentionBank(n, (4, 4))
    hot_bank.update(torch.arange(n), hot)
    hot_bank.mark_refreshed(10)
    hot_bank.save(str(work / 'amt_bank' / 'epoch_10.pth'))
    assert [e for e, _ in find_bank_files([str(work)])] == [2, 10]  # numeric, not text order

    tool = load_tool('tools/analysis_tools/attention_stats.py')
    out = tmp_path / 'stats.json'
    records = tool.main([str(work), '--config', config, '--json', str(out)])
    assert json.loads(out.read_text()) == records
    flat, peaked = records
    assert (flat['epoch'], peaked['epoch']) == (2, 10)
    assert flat['num_with_objects'] == peaked['num_with_objects'] == n
    assert flat['entropy'] == pytest.approx(1.0, abs=1e-6) and peaked['entropy'] < 0.95
    # uniform attention lands on objects exactly in proportion to their area
    assert flat['object_share'] == pytest.approx(flat['area_share'], abs=1e-3)
    assert peaked['object_share'] > flat['object_share'] + 0.2 and peaked['ratio'] > 1.5
    # an explicit --seg-dir finds the same masks
    again = tool.main([
        str(work / 'amt_bank' / 'epoch_10.pth'), '--config', config, '--seg-dir',
        str(synthetic_root / 'ade' / 'annotations' / 'training')
    ])
    assert again[0]['object_share'] == pytest.approx(peaked['object_share'])
    # without a config only the entropy is reported
    plain = tool.main([str(work)])
    assert plain[1]['object_share'] is None and plain[1]['entropy'] == peaked['entropy']


def test_tool_refuses_unreadable_bank_files_in_one_line(tmp_path, capsys):
    """A corrupt, truncated or foreign bank file ends the tool with status 2 and a one-line
    message naming it, not a torch traceback (needs ``AttentionBank.from_file`` to read through
    :func:`mmamt.utils.load_torch_file`)."""
    tool = load_tool('tools/analysis_tools/attention_stats.py')
    for problem, path in write_unreadable_files(tmp_path).items():
        with pytest.raises(SystemExit) as exit_:
            tool.main([path])
        err = capsys.readouterr().err
        assert exit_.value.code == 2, problem
        assert err.startswith('error: ') and err.count('\n') == 1, err
        assert path in err and 'attention bank' in err and 'weights_only' not in err, err
