"""A zero-byte image fails with its file name, also from a worker."""
import pytest
from mmengine.runner import Runner

from ._amt_runner import tiny_cfg
from ._faults import copy_data, train_images


@pytest.mark.parametrize('num_workers', [0, 1])
def test_zero_byte_image_names_the_file(synthetic_root, tmp_path, num_workers):
    data = copy_data(synthetic_root, tmp_path / 'data')
    empty = train_images(data)[5]
    open(empty, 'wb').close()
    cfg = tiny_cfg(data, tmp_path / 'work', max_epochs=1, num_workers=num_workers)
    with pytest.raises(Exception) as err:
        Runner.from_cfg(cfg).train()
    # the note is printed under the traceback; from a worker it is part of the message
    text = str(err.value) + '\n'.join(getattr(err.value, '__notes__', []))
    assert f'while loading sample 5 ({empty}, an empty file (0 bytes))' in text
