"""How the AMT attention maps evolve: entropy, and how much of the attention lands on objects.

Used by ``tools/analysis_tools/attention_stats.py`` on the banks the refresh hook writes
(``work_dir/amt_bank/epoch_<e>.pth``).
"""
import glob
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.utils import track_on_main_process
from PIL import Image

from mmamt.datasets import AttentionBank
from mmamt.datasets.attention_bank import map_entropy

_EPOCH_RE = re.compile(r'epoch_(\d+)\.pth$')
# Synthetic layout: imagenet/<split>/<class>/<stem>.png <-> ade/annotations/<ade split>/<stem>.png
_ADE_SPLITS = {'train': 'training', 'val': 'validation'}


def _expand_map(attn_map: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """A patch-grid map over ``shape`` pixels of the full image (each patch a constant cell)."""
    hm, wm = attn_map.shape
    rows = np.minimum(((np.arange(shape[0]) + 0.5) * hm / shape[0]).astype(np.int64), hm - 1)
    cols = np.minimum(((np.arange(shape[1]) + 0.5) * wm / shape[1]).astype(np.int64), wm - 1)
    return attn_map[rows][:, cols]


def object_share(attn_map: np.ndarray, object_mask: np.ndarray) -> float:
    """Share of the attention mass that falls on object pixels.

    The map covers the full image (the refresh pass sees the whole image resized), so each of
    its cells is spread over the matching block of the mask's pixels. Compare with the objects'
    area share ``object_mask.mean()``: a larger share means the attention prefers objects, an
    equal one that it ignores them (a uniform map gives exactly the area share).

    Args:
        attn_map (np.ndarray): ``(h, w)`` map in [0, 1] (or uint8).
        object_mask (np.ndarray): ``(H, W)``, nonzero on object pixels.

    Returns:
        float: Attention on objects / total attention, in [0, 1]; the area share when the map
        is all zero.
    """
    attn_map = np.asarray(attn_map, dtype=np.float64)
    if attn_map.ndim != 2:
        raise ValueError(f'attn_map must be (h, w), got shape {attn_map.shape}')
    objects = np.asarray(object_mask) != 0
    if objects.ndim != 2:
        raise ValueError(f'object_mask must be (H, W), got shape {objects.shape}')
    dense = np.clip(_expand_map(attn_map, objects.shape), 0, None)
    total = dense.sum()
    if total <= 0:
        return float(objects.mean())
    return float(dense[objects].sum() / total)


def find_bank_files(paths: Sequence[str]) -> List[Tuple[int, str]]:
    """``(epoch, path)`` of the bank files given, sorted by epoch.

    Args:
        paths (Sequence[str]): Bank files (``epoch_<e>.pth``), folders holding them, or work
            dirs (their ``amt_bank/`` is searched).

    Returns:
        list[tuple[int, str]]: One entry per file; the epoch is -1 when the name has none.
    """
    found = []
    for path in paths:
        if osp.isdir(path):
            folder = osp.join(path, 'amt_bank') if osp.isdir(osp.join(path, 'amt_bank')) else path
            files = glob.glob(osp.join(folder, 'epoch_*.pth'))
            if not files:
                raise FileNotFoundError(f'no epoch_<e>.pth bank files in {folder}')
        elif osp.isfile(path):
            files = [path]
        else:
            raise FileNotFoundError(f'{path} is neither a bank file nor a folder')
        found.extend((epoch_of(f), f) for f in files)
    return sorted(set(found))


def epoch_of(path: str) -> int:
    """The ``<e>`` of a file named ``epoch_<e>.pth`` (a bank or a checkpoint), else -1."""
    match = _EPOCH_RE.search(osp.basename(path))
    return int(match.group(1)) if match else -1


def object_mask_path(img_path: str, seg_dir: Optional[str] = None) -> Optional[str]:
    """The object-mask PNG of an image, or None if there is none.

    With ``seg_dir``: ``seg_dir/<stem>.png``. Without: a ``masks/`` tree beside the class
    folders, ``<root>/masks/<split>/<class>/<stem>.png`` for ``<root>/<split>/<class>/<stem>.png``
    (the handwritten digits, :mod:`mmamt.analysis.digits`), else the synthetic layout's ADE label
    map, ``<root>/ade/annotations/<training|validation>/<stem>.png`` for
    ``<root>/imagenet/<train|val>/<class>/<stem>.png``.

    Args:
        img_path (str): The training image.
        seg_dir (str, optional): Folder of ``<stem>.png`` masks (nonzero = object).
            Defaults to None.

    Returns:
        str | None: An existing file, or None.
    """
    stem = osp.splitext(osp.basename(img_path))[0]
    if seg_dir is not None:
        path = osp.join(seg_dir, f'{stem}.png')
        return path if osp.isfile(path) else None
    parts = osp.normpath(osp.abspath(img_path)).split(osp.sep)
    if len(parts) >= 3:
        beside = osp.join(osp.sep.join(parts[:-3]) or osp.sep, 'masks', *parts[-3:])
        if osp.isfile(beside):
            return beside
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == 'imagenet' and i + 1 < len(parts) and parts[i + 1] in _ADE_SPLITS:
            root = osp.sep.join(parts[:i]) or osp.sep
            path = osp.join(root, 'ade', 'annotations', _ADE_SPLITS[parts[i + 1]], f'{stem}.png')
            return path if osp.isfile(path) else None
    return None


def read_object_mask(path: str) -> np.ndarray:
    """An object mask file as a boolean ``(H, W)`` array: any nonzero channel is object."""
    with Image.open(path) as im:
        objects = np.asarray(im) != 0
    return objects.any(axis=-1) if objects.ndim == 3 else objects


def object_cells(object_mask: np.ndarray, grid: int) -> np.ndarray:
    """The share of object pixels in each cell of a ``grid x grid`` split, float64 in [0, 1]."""
    return np.asarray(
        Image.fromarray((np.asarray(object_mask) != 0).astype(np.uint8) * 255).resize(
            (grid, grid), Image.BOX),
        dtype=np.float64) / 255.0


def role_object_shares(attn_map: np.ndarray,
                       object_mask: np.ndarray,
                       generator,
                       num_refreshes: int,
                       draws: int = 4) -> Dict[str, float]:
    """How much of the visible, masked and thrown patches lies on the object.

    The generator draws its AMT token mask from ``attn_map`` over the full image (the view the
    map was computed on; training views crop and flip it, which moves patches but not these
    shares much). Each patch counts with the share of its pixels on the object.

    Args:
        attn_map (np.ndarray): ``(h, w)`` map in [0, 1].
        object_mask (np.ndarray): ``(H, W)``, nonzero on object pixels.
        generator (AMTMaskGenerator): The training pipeline's generator.
        num_refreshes (int): Refreshes so far (its ``ramp_refreshes`` reads them).
        draws (int): Masks drawn (the draw is random). Defaults to 4.

    Returns:
        dict: ``visible``, ``masked``, ``thrown``: mean object share of the patches in each
        role (NaN for a role with no patch).
    """
    size = generator.input_size
    objects = object_cells(object_mask, size // generator.model_patch_size)
    results = dict(
        img=np.zeros((size, size, 3), np.uint8),
        attn_map=attn_map,
        amt_active=True,
        amt_refreshes=num_refreshes)
    sums = {role: [] for role in ('visible', 'masked', 'thrown')}
    for _ in range(draws):
        mask = generator.transform(dict(results))['mask']
        for role, value in (('visible', 0), ('masked', 1), ('thrown', -1)):
            if (mask == value).any():
                sums[role].append(objects[mask == value].mean())
    return {role: float(np.mean(v)) if v else float('nan') for role, v in sums.items()}


def bank_report(bank_files: Sequence[Tuple[int, str]],
                img_paths: Optional[Sequence[str]] = None,
                seg_dir: Optional[str] = None,
                generator=None) -> List[Dict]:
    """One record per bank file: entropy, and object vs area share where masks exist.

    Args:
        bank_files (Sequence[tuple[int, str]]): ``(epoch, path)`` from :func:`find_bank_files`.
        img_paths (Sequence[str], optional): ``img_path`` of each ``sample_idx`` of the training
            set; without it no object share is computed. Defaults to None.
        seg_dir (str, optional): Folder of object masks, see :func:`object_mask_path`.
            Defaults to None.
        generator (AMTMaskGenerator, optional): With masks, also report where its token masks
            fall (:func:`role_object_shares`, ``visible_object`` etc.). Defaults to None.

    Returns:
        list[dict]: Per bank: ``epoch``, ``file``, ``num_maps``, ``grid``, ``num_refreshes``,
        ``active``, ``entropy`` (mean normalised entropy), ``map_mean``, and, when masks were
        found, ``num_with_objects``, ``object_share`` (mean attention share on objects),
        ``area_share`` (mean object area share) and ``ratio`` (their quotient); these are None
        otherwise. With ``generator``: ``visible_object``, ``masked_object``, ``thrown_object``
        (mean object share of the patches in each role, on the maps of active banks).
    """
    banks = [(epoch, path, AttentionBank.from_file(path)) for epoch, path in bank_files]
    records = []
    for epoch, path, bank in banks:
        maps = bank.maps.numpy()
        records.append(
            dict(
                epoch=epoch,
                file=path,
                num_maps=len(bank),
                grid=list(bank.grid),
                num_refreshes=bank.num_refreshes,
                active=bank.active,
                entropy=float(map_entropy(maps).mean()),
                map_mean=float(maps.mean() / 255.0),
                num_with_objects=0,
                object_share=None,
                area_share=None,
                ratio=None,
                visible_object=None,
                masked_object=None,
                thrown_object=None))
    if img_paths is None or not banks:
        return records
    for epoch, path, bank in banks:
        if len(bank) != len(img_paths):
            raise ValueError(f'{path} holds {len(bank)} maps but the training set of the config '
                             f'has {len(img_paths)} samples: use the config of that run')
    shares = [[] for _ in banks]
    roles = [[] for _ in banks]
    areas = []
    # One pass over the samples: each mask is read once for all banks.
    # rich: a bar on a terminal, a single line in a non-interactive log.
    for idx, img_path in track_on_main_process(
            enumerate(img_paths), 'attention on objects', total=len(img_paths)):
        mask_path = object_mask_path(img_path, seg_dir)
        if mask_path is not None:
            objects = read_object_mask(mask_path)
            if objects.any():
                areas.append(float(objects.mean()))
                for b, (_, _, bank) in enumerate(banks):
                    shares[b].append(object_share(bank.maps[idx].numpy(), objects))
                    if generator is not None and bank.active:
                        roles[b].append(
                            role_object_shares(
                                bank.maps[idx].numpy() / 255.0,
                                objects,
                                generator,
                                bank.num_refreshes,
                                draws=1))
    if areas:
        area = float(np.mean(areas))
        for record, share, role in zip(records, shares, roles):
            record.update(
                num_with_objects=len(areas),
                object_share=float(np.mean(share)),
                area_share=area,
                ratio=float(np.mean(share)) / area)
            if role:
                record.update({
                    f'{r}_object': float(np.nanmean([x[r] for x in role]))
                    for r in ('visible', 'masked', 'thrown')
                })
    return records


def format_report(records: Sequence[Dict]) -> str:
    """The records of :func:`bank_report` as a fixed-width table."""
    header = (f'{"epoch":>6} {"refreshes":>9} {"maps":>6} {"grid":>7} {"entropy":>8} '
              f'{"obj_share":>9} {"area_share":>10} {"ratio":>6} {"with_obj":>8}')
    lines = [header, '-' * len(header)]
    fmt = lambda v, w: f'{v:>{w}.3f}' if v is not None else f'{"-":>{w}}'  # noqa: E731
    for r in records:
        grid = f'{r["grid"][0]}x{r["grid"][1]}'
        lines.append(f'{r["epoch"]:>6} {r["num_refreshes"]:>9} {r["num_maps"]:>6} {grid:>7} '
                     f'{r["entropy"]:>8.3f} {fmt(r["object_share"], 9)} '
                     f'{fmt(r["area_share"], 10)} {fmt(r["ratio"], 6)} '
                     f'{r["num_with_objects"]:>8}')
    return '\n'.join(lines)
