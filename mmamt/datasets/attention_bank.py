"""The attention bank: one AMT map per training sample, shared by every dataloader worker.

Maps are stored as ``uint8`` (one byte per patch, value = round(255 * map)) in a tensor whose
storage lives in shared memory, created in the main process before workers start. Workers forked
(or spawned: torch pickles shared tensors as handles) from it read the very same memory, so a
refresh in the main process reaches persistent workers with no copy per worker. The small
``state`` tensor (AMT active flag, epoch of the last refresh) is shared the same way.
"""
import copy
import hashlib
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from mmamt.utils.io import atomic_torch_save, load_torch_file


def map_entropy(maps) -> np.ndarray:
    """Normalised entropy of each map taken as a distribution over its patches.

    ``p = (m + 1e-6) / sum``, entropy divided by ``log(L)``, so 1 is a uniform map and values
    near 0 a map on a single patch. Used by :meth:`AttentionBank.statistics` and the
    attention-statistics tool.

    Args:
        maps (np.ndarray | torch.Tensor): ``(N, h, w)`` or ``(N, L)`` maps in [0, 1], or uint8
            maps (``value / 255``).

    Returns:
        np.ndarray: ``(N,)`` float64 entropies in [0, 1].
    """
    maps = torch.as_tensor(maps)
    if maps.dtype == torch.uint8:
        maps = maps.double() / 255.0
    maps = maps.double().flatten(1)
    if maps.shape[1] < 2:
        raise ValueError(f'maps must have at least 2 patches, got shape {tuple(maps.shape)}')
    p = maps.clamp_min(0) + 1e-6
    p = p / p.sum(dim=1, keepdim=True)
    return (-(p * p.log()).sum(dim=1) / np.log(maps.shape[1])).numpy()


def dataset_identity(dataset) -> str:
    """What identifies a training set and its order, for checking a saved bank against it.

    A SHA-256 over the number of samples and, per sample in ``sample_idx`` order, its image path
    relative to the dataset's image folder (so moving the data root keeps the identity) or, for
    data sets held in memory without paths (CIFAR, MNIST), the image array. Deleting one image and
    adding another, or reordering, changes it.

    Args:
        dataset (mmengine.dataset.BaseDataset): The training set.

    Returns:
        str: ``'sha256:<64 hex digits>'``.
    """
    root = (getattr(dataset, 'data_prefix', None) or {}).get('img_path') or ''
    root = osp.normpath(root) + osp.sep if root else ''
    digest = hashlib.sha256(f'n={len(dataset)}'.encode())
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path, img = info.get('img_path'), info.get('img')
        if path is not None:
            path = osp.normpath(str(path))
            if root and path.startswith(root):
                path = path[len(root):]
            digest.update(b'\0p' + path.replace(osp.sep, '/').encode())
        elif isinstance(img, np.ndarray):
            digest.update(b'\0i' + str(img.shape).encode() + np.ascontiguousarray(img).tobytes())
        else:
            digest.update(b'\0?')
    return 'sha256:' + digest.hexdigest()


class AttentionBank:
    """Per-sample AMT attention maps, indexed by ``sample_idx``.

    Args:
        num_samples (int): Number of samples in the training set.
        grid (tuple[int, int]): ``(h, w)`` of each map (the model's patch grid at the refresh
            input size).
        data_id (str, optional): :func:`dataset_identity` of the training set the maps belong
            to; saved with the maps and checked when they are loaded. Defaults to None (not
            checked).
        made_with (dict, optional): The one record of what the maps were made with, saved with
            them (in bank files and checkpoints) so that tools read it from the bank and a
            resume can compare it: ``maps`` (how a map is made: ``source``, ``map_norm``,
            ``image_size``, ``grid``, ``quantisation``), ``model`` (the settings of the model
            that computed them, :func:`mmamt.models.utils.describe_model`) and ``run``
            (``world_size``, ``iters_per_epoch``). Defaults to None (an empty record).
    """

    def __init__(self,
                 num_samples: int,
                 grid: Tuple[int, int],
                 data_id: Optional[str] = None,
                 made_with: Optional[Dict] = None) -> None:
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.grid = (int(grid[0]), int(grid[1]))
        self.data_id = data_id
        self.made_with = copy.deepcopy(made_with) if made_with else {}
        # Uniform until the first refresh, which makes AMT sampling equal to random sampling.
        self.maps = torch.full((num_samples, *self.grid), 255, dtype=torch.uint8).share_memory_()
        # [active, last_refresh_epoch, number of refreshes]
        self.state = torch.tensor([0, -1, 0], dtype=torch.int64).share_memory_()

    def __len__(self) -> int:
        return self.maps.shape[0]

    def _views(self) -> Tuple[np.ndarray, np.ndarray]:
        """numpy views of the shared ``maps`` and ``state`` (same memory, no copy).

        Reading through numpy skips torch's dispatcher, which costs more than the read itself
        in a dataloader worker whose caches the image transforms have just flushed.
        """
        views = self.__dict__.get('_np_views')
        if views is None:
            views = self._np_views = (self.maps.numpy(), self.state.numpy())
        return views

    def __getstate__(self) -> Dict:
        # Pickled (spawned workers) as the shared tensors only: a pickled numpy view would be a
        # private copy that never sees a refresh.
        state = self.__dict__.copy()
        state.pop('_np_views', None)
        return state

    @property
    def num_samples(self) -> int:
        return self.maps.shape[0]

    @property
    def active(self) -> bool:
        """Whether AMT masking and throwing is on (after the first refresh)."""
        return bool(self._views()[1][0])

    @active.setter
    def active(self, value: bool) -> None:
        self.state[0] = int(bool(value))

    @property
    def last_refresh_epoch(self) -> int:
        """Epoch (1-based, completed) of the last refresh; -1 before any."""
        return int(self.state[1])

    @property
    def num_refreshes(self) -> int:
        return int(self._views()[1][2])

    def get(self, index: int) -> np.ndarray:
        """The map of one sample, ``(h, w)`` float32 in [0, 1]."""
        return self._views()[0][index] * np.float32(1 / 255)

    def update(self, indices: torch.Tensor, maps: torch.Tensor) -> None:
        """Write maps in place (the shared memory the workers read).

        Args:
            indices (torch.Tensor): ``(n,)`` sample indices.
            maps (torch.Tensor): ``(n, h, w)`` float maps in [0, 1] or uint8.
        """
        indices = torch.as_tensor(indices, dtype=torch.long)
        if maps.shape[1:] != self.maps.shape[1:]:
            raise ValueError(f'maps of shape {tuple(maps.shape[1:])} do not fit the bank grid '
                             f'{self.grid}')
        if maps.dtype != torch.uint8:
            maps = (maps.float().clamp(0, 1) * 255).round().to(torch.uint8)
        self.maps[indices] = maps.cpu()

    def mark_refreshed(self, epoch: int) -> None:
        """Record a completed refresh after ``epoch`` and switch AMT on."""
        self.state[1] = int(epoch)
        self.state[2] += 1
        self.active = True

    def state_dict(self) -> Dict:
        """Everything needed to resume without recomputing the maps."""
        return dict(
            maps=self.maps.clone(),
            num_samples=self.num_samples,
            grid=list(self.grid),
            data_id=self.data_id,
            active=self.active,
            last_refresh_epoch=self.last_refresh_epoch,
            num_refreshes=self.num_refreshes,
            made_with=copy.deepcopy(self.made_with))

    def data_mismatch(self, state: Dict, source: str = 'checkpoint') -> Optional[str]:
        """How the training data a saved bank was made for differs from this bank's.

        Args:
            state (dict): A :meth:`state_dict`.
            source (str): Where ``state`` comes from, for the error message.

        Returns:
            str | None: A description of the difference; None when the data is the same or the
            saved bank records no identity (saved by an older mmamt).

        Raises:
            ValueError: If the saved bank has another grid (the model changed, not the data).
        """
        if tuple(state['grid']) != self.grid:
            raise ValueError(f'the attention bank in the {source} has grid={tuple(state["grid"])}'
                             f' but the model gives {self.grid}: resume with the same model '
                             'input size and patch size (or start a new run)')
        if int(state['num_samples']) != self.num_samples:
            return (f'the saved bank has num_samples={state["num_samples"]} but '
                    f'train_dataloader.dataset has {self.num_samples} samples')
        saved = state.get('data_id')
        if saved is not None and self.data_id is not None and saved != self.data_id:
            return (f'same number of samples ({self.num_samples}) but other images or another '
                    f'order (data_id {saved[:15]}... saved, {self.data_id[:15]}... now)')
        return None

    def load_state_dict(self, state: Dict, source: str = 'checkpoint') -> None:
        """Restore maps and flags in place (workers keep seeing the same memory).

        Raises:
            ValueError: If the saved bank was made for a different data set or grid.
        """
        mismatch = self.data_mismatch(state, source)
        if mismatch is not None:
            raise ValueError(f'the attention bank in the {source} belongs to other training data: '
                             f'{mismatch}')
        if self.data_id is None:
            self.data_id = state.get('data_id')
        if not self.made_with:
            self.made_with = copy.deepcopy(state.get('made_with') or {})
        self.maps.copy_(state['maps'])
        self.state[0] = int(bool(state['active']))
        self.state[1] = int(state['last_refresh_epoch'])
        self.state[2] = int(state.get('num_refreshes', int(state['active'])))

    def save(self, path: str) -> None:
        """Write the bank atomically: a temp file in the same folder, then ``os.replace``."""
        atomic_torch_save(self.state_dict(), path)

    @classmethod
    def from_file(cls, path: str) -> 'AttentionBank':
        """Load a bank written by :meth:`save`."""
        state = load_torch_file(path, 'an AMT attention bank written by AttentionRefreshHook')
        bank = cls(
            int(state['num_samples']), tuple(state['grid']), state.get('data_id'),
            state.get('made_with'))
        bank.load_state_dict(state, source=path)
        return bank

    def statistics(self, indices: Optional[Sequence[int]] = None) -> Dict[str, float]:
        """Mean, std and normalised entropy of the maps (entropy 1 = uniform)."""
        maps = self.maps if indices is None else self.maps[torch.as_tensor(indices)]
        values = maps.float() / 255.0
        return dict(
            mean=float(values.mean()),
            std=float(values.std()),
            entropy=float(map_entropy(maps).mean()))
