"""What dropping the thrown patches from a teacher's forward does to its targets.

``teacher_tokens='kept'`` (EVA-AMT, MILAN-AMT) runs the teacher on [CLS], the visible and the
masked patches only. :func:`kept_target_similarity` compares the targets that gives at the masked
patches with the full-image teacher's, per patch (cosine similarity), with masks drawn as in
training: the config's ``AMTMaskGenerator``, following the teacher's own last-layer [CLS]
attention as a stand-in for a refreshed map.
"""
import copy
from typing import Dict

import numpy as np
import torch
import torch.nn.functional as F

from mmamt.models.utils import TokenSplit, gather_tokens, normalize_attention


@torch.no_grad()
def kept_target_similarity(teacher: torch.nn.Module,
                           generator_cfg: dict,
                           images: torch.Tensor,
                           mask_ratio: float,
                           throw_ratio: float,
                           seed: int = 0) -> Dict[str, float]:
    """Cosine similarity of the kept-patch and the full-image targets at the masked patches.

    Args:
        teacher (torch.nn.Module): A teacher whose ``forward`` takes ``keep`` and returns
            features and attention with the [CLS] row first (``FrozenViTTeacher``,
            ``FrozenCLIPTeacher``).
        generator_cfg (dict): The ``AMTMaskGenerator`` config of training; its ratios are
            replaced by ``mask_ratio`` and ``throw_ratio``.
        images (torch.Tensor): ``(N, 3, H, W)`` normalised images of the training size.
        mask_ratio (float): Share of the patches masked.
        throw_ratio (float): Share thrown.
        seed (int): Seed of the masks. Defaults to 0.

    Returns:
        dict: ``mean``, ``p05`` (5th percentile) and ``min`` of the similarity over every masked
        patch, and ``thrown`` (thrown patches per image).
    """
    from mmpretrain.registry import TRANSFORMS
    cfg = copy.deepcopy(dict(generator_cfg))
    cfg.update(mask_ratio=mask_ratio, throw_ratio=throw_ratio)
    generator = TRANSFORMS.build(cfg)
    full, attention = teacher(images)
    # The [CLS] row of the teacher's last-layer attention (head-averaged), as MILAN reads it
    probs = attention[:, :1, 1:]
    side = int(round(probs.shape[-1]**.5))
    maps = normalize_attention(probs).reshape(-1, side, side).numpy()
    img = np.zeros((images.shape[2], images.shape[3], 3), np.uint8)  # only its shape is read
    np.random.seed(seed)
    masks = np.stack([
        generator.transform(dict(img=img, attn_map=m, amt_active=True,
                                 amt_refreshes=1 << 20))['mask'] for m in maps
    ])
    split = TokenSplit.from_mask(torch.from_numpy(masks).flatten(1))
    kept, _ = teacher(images, keep=torch.cat([split.visible, split.masked], dim=1))
    cos = F.cosine_similarity(
        gather_tokens(full[:, 1:], split.masked), kept[:, 1 + split.visible.shape[1]:], dim=-1)
    return dict(
        mean=float(cos.mean()),
        p05=float(cos.quantile(0.05)),
        min=float(cos.min()),
        thrown=int(split.thrown.shape[1]))
