"""source_bank.py: a map source's bank from a checkpoint, read by attention_stats.py."""
import torch

from mmamt.datasets import AttentionBank
from ..test_visualization._tiny import load_tool, tiny_files


def test_each_source_gives_its_bank_and_attention_stats_reads_it(synthetic_root, tmp_path):
    config, ckpt = tiny_files(tmp_path, synthetic_root, 'mae')
    named = tmp_path / 'epoch_7.pth'
    named.write_bytes(open(ckpt, 'rb').read())
    tool = load_tool('tools/analysis_tools/source_bank.py')
    cls_path = tool.main([config, str(named), str(tmp_path / 'cls')])
    patch_path = tool.main(
        [config, ckpt,
         str(tmp_path / 'patch'), '--source', 'type=PatchAttentionMap', 'layers=[0]'])
    assert cls_path.endswith('cls/epoch_7.pth') and patch_path.endswith('patch/epoch_0.pth')
    cls, patch = AttentionBank.from_file(cls_path), AttentionBank.from_file(patch_path)
    num_train = len(list((synthetic_root / 'imagenet' / 'train').glob('*/*.png')))
    assert len(cls) == len(patch) == num_train and cls.grid == (4, 4)
    assert cls.active and cls.num_refreshes == 1 and cls.last_refresh_epoch == 7
    assert cls.made_with['maps']['source'] == 'last-layer [CLS] attention, heads averaged'
    assert patch.made_with['maps']['source'] == dict(type='PatchAttentionMap', layers=[0])
    assert not torch.equal(cls.maps, patch.maps)
    assert (cls.maps != 255).flatten(1).any(1).all()  # every sample written, none left uniform
    stats = load_tool('tools/analysis_tools/attention_stats.py')
    for path in (cls_path, patch_path):
        record, = stats.main([path, '--config', config])
        assert record['num_with_objects'] == num_train and record['ratio'] is not None
