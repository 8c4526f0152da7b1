"""tools/visualization/vis_amt.py and write_panels on tiny MAE-AMT / SimMIM-AMT checkpoints."""
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import mmamt  # noqa: F401
from mmamt.datasets import AttentionBank
from mmamt.models.utils import MASKED, THROWN, VISIBLE
from mmamt.utils.amt_config import build_mask_generator, mask_generator_cfg
from mmamt.visualization import MASK_COLORS, THROWN_GREY, display_factor, panel_shape, write_panels
from ._tiny import load_tool, tiny_files

IMG = 32  # tiny_cfg's input size


def _read(path):
    return np.asarray(Image.open(path).convert('RGB'))


@pytest.mark.parametrize('algo', ['mae', 'simmim'])
def test_tool_panels_show_the_configs_mask(algo, synthetic_root, tmp_path):
    config, ckpt = tiny_files(tmp_path, synthetic_root, algo)
    out = tmp_path / 'out'
    load_tool('tools/visualization/vis_amt.py').main(
        [config, ckpt, '--out', str(out), '--num', '3'])
    files = sorted(out.glob('*.png'))
    train_stems = {p.stem for p in (synthetic_root / 'imagenet' / 'train').rglob('*.png')}
    assert len(files) == 3 and {f.stem for f in files} <= train_stems

    generator = build_mask_generator(Config.fromfile(config))
    n_mask, n_throw = generator.amt_counts
    counts = {MASKED: n_mask, THROWN: n_throw, VISIBLE: generator.num_patches - n_mask - n_throw}
    k = display_factor(IMG)
    tile = IMG * k
    mask_px = generator.mask_patch_size * k  # one mask patch on screen
    for f in files:
        panel = _read(f)
        assert panel.shape[:2] == panel_shape(IMG) == (tile + 44, 4 * tile)
        image, mask, recon = (panel[:tile, i * tile:(i + 1) * tile] for i in (0, 2, 3))
        for value, n in counts.items():
            hit = (mask == MASK_COLORS[value]).all(-1)
            assert hit.sum() == n * mask_px**2, (f.name, value)
        # the reconstruction follows the mask: thrown cells grey, visible cells the image
        thrown = (mask == MASK_COLORS[THROWN]).all(-1)
        visible = (mask == MASK_COLORS[VISIBLE]).all(-1)
        assert (recon[thrown] == THROWN_GREY).all()
        assert np.array_equal(recon[visible], image[visible])
        assert not np.array_equal(recon[~thrown & ~visible], image[~thrown & ~visible])


def test_image_folder_names_and_seeds(synthetic_root, tmp_path):
    config, ckpt = tiny_files(tmp_path, synthetic_root, 'mae')
    src = sorted((synthetic_root / 'imagenet' / 'train').rglob('*.png'))[:3]
    folder = tmp_path / 'imgs'
    for sub, path in zip(('a', 'b', 'b/c'), src):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / sub / 'x.png')  # the same stem three times
    shutil.copy(src[0], folder / 'solo.jpg')
    first = write_panels(config, ckpt, str(tmp_path / 'o1'), images=str(folder), num=10, seed=3)
    again = write_panels(config, ckpt, str(tmp_path / 'o2'), images=str(folder), num=10, seed=3)
    other = write_panels(config, ckpt, str(tmp_path / 'o3'), images=str(folder), num=10, seed=4)
    names = [p.split('/')[-1] for p in first]
    assert names == ['a__x.png', 'b__c__x.png', 'b__x.png', 'solo.png']
    assert all(np.array_equal(_read(p), _read(q)) for p, q in zip(first, again))
    assert any(not np.array_equal(_read(p), _read(q)) for p, q in zip(first, other))
    two = write_panels(
        config, ckpt, str(tmp_path / 'o4'), images=str(folder), num=2, seed=1, shuffle=True)
    assert len(two) == 2 and set(p.split('/')[-1] for p in two) <= set(names)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no images'):
        write_panels(config, ckpt, str(tmp_path / 'o5'), images=str(tmp_path / 'empty'))


def test_the_maps_are_made_as_the_banks_record_says(synthetic_root, tmp_path):
    """Given the run's bank, the panels make their maps as its record says (``map_norm``),
    not as the config (edited since, say) does; without a bank the config's generator says."""
    config, ckpt = tiny_files(tmp_path, synthetic_root, 'mae')
    cfg = Config.fromfile(config)
    mask_generator_cfg(cfg)['map_norm'] = 'max'
    max_config = str(tmp_path / 'max.py')
    cfg.dump(max_config)
    bank_file = str(tmp_path / 'epoch_1.pth')
    AttentionBank(1, (4, 4), made_with=dict(maps=dict(map_norm='max'))).save(bank_file)
    panels = {}
    for name, cfg_file, bank in (('minmax', config, None), ('max', max_config, None),
                                 ('bank', config, bank_file)):
        paths = write_panels(cfg_file, ckpt, str(tmp_path / name), num=2, bank=bank)
        panels[name] = [_read(p) for p in paths]
    assert all(np.array_equal(a, b) for a, b in zip(panels['bank'], panels['max']))
    assert not all(np.array_equal(a, b) for a, b in zip(panels['bank'], panels['minmax']))
