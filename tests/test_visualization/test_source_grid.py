"""The picture of several map sources on the same images."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmamt.visualization import source_grid

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AMT = osp.join(REPO, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py')


def test_one_row_per_image_one_column_per_source(synthetic_root):
    images = str(synthetic_root / 'imagenet' / 'val')
    sources = {
        'cls': None,
        'patch0': dict(type='PatchAttentionMap', layers=[0]),
        'loss': dict(type='ReconstructionLossMap', prefer='easy')
    }
    grid = source_grid(AMT, None, sources, images, num=3, min_tile=96)
    tile = 64 * 2  # the 64-px input, doubled to reach 96 px
    assert grid.shape == (24 + 3 * (tile + 4), 4 * tile + 3 * 4, 3) and grid.dtype == np.uint8
    row = grid[24:24 + tile]
    cols = [row[:, c * (tile + 4):c * (tile + 4) + tile] for c in range(4)]
    assert not any(np.array_equal(cols[a], cols[b]) for a in range(4) for b in range(a + 1, 4))
    with pytest.raises(ValueError, match=r'map_source.layers=\[9\]'):
        source_grid(AMT, None, {'bad': dict(type='CLSAttentionMap', layers=[9])}, images, num=1)
    with pytest.raises(ValueError, match='at least one map source'):
        source_grid(AMT, None, {}, images)


def test_tool_writes_the_png(synthetic_root, tmp_path):
    out = tmp_path / 'grid.png'
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO, 'tools', 'visualization', 'vis_map_sources.py'), AMT, 'none', '--out',
        str(out), '--images',
        str(synthetic_root / 'imagenet' / 'val'), '--num', '2', '--source', 'cls', '--source',
        'patch', 'type=PatchAttentionMap', 'layers=[0,-1]'
    ],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '2 sources x 2 images' in proc.stdout
    assert Image.open(out).size[0] == 3 * 128 + 2 * 4  # 3 columns of the default 128-px tile
