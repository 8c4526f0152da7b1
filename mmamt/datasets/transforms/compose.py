"""A pipeline that says which sample it was loading when a transform fails."""
import os.path as osp
from typing import Optional

from mmengine.dataset import Compose


def describe_sample(idx: Optional[int], path: Optional[str]) -> str:
    """``sample 17 (data/train/a/x.png, an empty file (0 bytes))``: index, path, file size."""
    text = f'sample {idx}' if idx is not None else 'a sample'
    if path is not None:
        try:
            size = osp.getsize(path)
            state = 'an empty file (0 bytes)' if size == 0 else f'{size} bytes'
        except OSError as e:
            state = f'unreadable: {e.strerror or e}'
        text += f' ({path}, {state})'
    return text


class SampleNamingCompose(Compose):
    """mmengine's ``Compose`` that names the sample in any error a transform raises.

    Image decoders fail without naming the file (cv2 on a zero-byte file says only
    ``!buf.empty()``). The error keeps its type and message and gets a note (PEP 678: printed
    under the traceback, also when it is re-raised from a dataloader worker) with the sample
    index and image path, saying when the file is empty. ``AttentionRefreshHook`` runs the
    training pipeline and its refresh view through it.
    """

    def __call__(self, data: dict) -> Optional[dict]:
        # read before the transforms change `data`; the file is looked at only on failure
        idx, path = data.get('sample_idx'), data.get('img_path')
        try:
            return super().__call__(data)
        except Exception as e:
            if hasattr(e, 'add_note'):  # Python >= 3.11
                e.add_note(f'while loading {describe_sample(idx, path)}')
            raise
