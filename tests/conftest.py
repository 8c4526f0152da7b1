import os

import pytest

# Tests run on small CPUs: keep each process to a couple of threads.
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """The built-in synthetic data set (small), made once per test session."""
    from mmamt.datasets.synthetic import make_synthetic_dataset
    root = tmp_path_factory.mktemp('synthetic')
    make_synthetic_dataset(str(root), num_train=40, num_val=12, image_size=64, seed=0)
    return root
