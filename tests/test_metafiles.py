"""``model-index.yml`` and the ``metafile.yml`` of each config folder agree with ``configs/``.

This is how ``mim`` finds configs, as in mmpretrain: the root ``model-index.yml`` imports one
``metafile.yml`` per config folder, which lists each config under ``Models``. A config added
without a metafile entry, an entry whose config was renamed or removed, or a folder without its
README fails here.
"""
from collections import Counter
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'
#: Config files that inherit only; no metafile lists them (as mmpretrain's ``_base_``).
BASE_DIR = '_base_'


def load_yaml(path: Path) -> dict:
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def imported_metafiles() -> List[str]:
    index = load_yaml(ROOT / 'model-index.yml')
    assert isinstance(index, dict) and isinstance(index.get('Import'), list), index
    return index['Import']


IMPORTS = imported_metafiles()


def metafiles() -> Dict[str, dict]:
    return {path: load_yaml(ROOT / path) for path in IMPORTS if (ROOT / path).is_file()}


def shipped_configs() -> List[str]:
    return sorted(
        p.relative_to(ROOT).as_posix() for p in CONFIG_DIR.rglob('*.py')
        if BASE_DIR not in p.relative_to(CONFIG_DIR).parts)


def test_every_imported_metafile_exists():
    assert IMPORTS and len(IMPORTS) == len(set(IMPORTS)), IMPORTS
    missing = [p for p in IMPORTS if not (ROOT / p).is_file()]
    assert not missing, f'model-index.yml imports missing files: {missing}'


def test_every_metafile_is_imported():
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in CONFIG_DIR.rglob('metafile.yml'))
    assert sorted(IMPORTS) == on_disk


@pytest.mark.parametrize('path', IMPORTS)
def test_metafile_shape(path):
    meta = load_yaml(ROOT / path)
    assert set(meta) == {'Collections', 'Models'}, sorted(meta)
    for coll in meta['Collections']:
        assert {'Name', 'Metadata', 'Paper', 'README', 'Code'} <= set(coll), coll.get('Name')
        assert {'Title', 'URL'} <= set(coll['Paper'])
        assert {'URL', 'Version'} <= set(coll['Code'])
        url = coll['Code']['URL']
        assert url.startswith('https://') or (ROOT / url).is_file(), url
        assert (ROOT / coll['README']).is_file(), coll['README']
    for model in meta['Models']:
        assert {'Name', 'Metadata', 'In Collection', 'Results', 'Config'} <= set(model), model
        # mmamt publishes no weights; the READMEs say so.
        assert 'Weights' not in model, model['Name']
        assert 'Batch Size' in model['Metadata'] and 'Training Data' in model['Metadata']
        assert model['Results'] is None or all({'Task', 'Dataset', 'Metrics'} <= set(r)
                                               for r in model['Results']), model['Name']


@pytest.mark.parametrize('path', IMPORTS)
def test_metafile_folder_has_readme(path):
    assert (ROOT / path).with_name('README.md').is_file()


def test_every_config_path_exists():
    missing = [(path, m['Config']) for path, meta in metafiles().items() for m in meta['Models']
               if not (ROOT / m['Config']).is_file()]
    assert not missing, f'Config: entries without a file: {missing}'


def test_config_listed_in_its_own_folder():
    misplaced = [(path, m['Config']) for path, meta in metafiles().items() for m in meta['Models']
                 if (ROOT / m['Config']).parent != (ROOT / path).parent]
    assert not misplaced, misplaced


def test_every_config_in_exactly_one_metafile():
    listed = Counter(m['Config'] for meta in metafiles().values() for m in meta['Models'])
    configs = shipped_configs()
    assert len(configs) > 30
    unlisted = [c for c in configs if c not in listed]
    twice = [c for c, n in listed.items() if n > 1]
    not_configs = [c for c in listed if c not in configs]
    assert not unlisted, f'configs in no metafile.yml: {unlisted}'
    assert not twice, f'configs in more than one Models entry: {twice}'
    assert not not_configs, f'entries that are not shipped configs: {not_configs}'


def test_in_collection_names_a_collection_of_its_metafile():
    wrong = []
    for path, meta in metafiles().items():
        names = {c['Name'] for c in meta['Collections']}
        wrong += [(path, m['Name'], m['In Collection']) for m in meta['Models']
                  if m['In Collection'] not in names]
    assert not wrong, wrong


def test_names_are_unique():
    names = Counter()
    for meta in metafiles().values():
        names.update(c['Name'] for c in meta['Collections'])
        names.update(m['Name'] for m in meta['Models'])
    twice = [n for n, k in names.items() if k > 1]
    assert not twice, f'collection or model names used more than once: {twice}'


def test_model_name_is_config_stem():
    wrong = [
        m['Name'] for meta in metafiles().values() for m in meta['Models']
        if Path(m['Config']).stem != m['Name']
    ]
    assert not wrong, wrong
