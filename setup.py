"""Install mmamt. Pins live in requirements/; torch and mmcv come first (see tools/install.sh).

mmcv is not in ``install_requires``: pre-training runs on mmcv-lite, detection needs the full mmcv
build, and both provide the same ``mmcv`` package (requirements/mminstall.txt).
"""
import re
from pathlib import Path
from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name: str) -> list:
    """Read one file under requirements/, following ``-r`` includes and dropping comments."""
    reqs = []
    for line in (ROOT / 'requirements' / name).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        if line.startswith('-r '):
            reqs += read_requirements(line[3:].strip())
        else:
            reqs.append(line)
    return reqs


def read_version() -> str:
    text = (ROOT / 'mmamt' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


setup(
    name='mmamt',
    version=read_version(),
    description='AMT (attention-driven masking and throwing) for OpenMMLab masked image modeling',
    long_description=(ROOT / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.10',
    install_requires=read_requirements('torch.txt') + read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'downstream': read_requirements('downstream.txt'),
        'optional': read_requirements('optional.txt'),
        'benchmark': read_requirements('benchmark.txt'),
    },
)
