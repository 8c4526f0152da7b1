"""The AMT token mask: 1 = masked, -1 = thrown, 0 = visible, one value per model patch."""
from typing import List, Tuple

import torch

MASKED, THROWN, VISIBLE = 1, -1, 0


def stack_token_masks(data_samples: List, device: torch.device) -> torch.Tensor:
    """Collect the ``mask`` field of each data sample into a flat token mask.

    Args:
        data_samples (list[DataSample]): Samples packed by ``PackInputs`` after
            ``AMTMaskGenerator``; each ``mask`` is ``(h, w)``.
        device (torch.device): Where the result goes.

    Returns:
        torch.Tensor: ``(B, h * w)`` int64 token mask.
    """
    masks = []
    for i, sample in enumerate(data_samples):
        if 'mask' not in sample:
            raise KeyError(f'data sample {i} has no `mask`: put AMTMaskGenerator (and PackInputs '
                           'after it) in the training pipeline')
        masks.append(torch.as_tensor(sample.mask).reshape(-1))
    return torch.stack(masks).to(device=device, dtype=torch.long)


def split_token_mask(token_mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices of the visible, masked and thrown patches, each in ascending patch order.

    Args:
        token_mask (torch.Tensor): ``(B, L)`` with values in {1, -1, 0}.

    Returns:
        tuple[torch.Tensor]: ``ids_visible (B, L_vis)``, ``ids_masked (B, L_mask)`` and
        ``ids_thrown (B, L_throw)``.

    Raises:
        ValueError: If the samples of the batch have different counts (they cannot be batched)
            or no patch is visible.
    """
    if token_mask.dim() != 2:
        raise ValueError(f'token mask must be (B, L), got {tuple(token_mask.shape)}')
    counts = [(token_mask == v).sum(dim=1) for v in (VISIBLE, MASKED, THROWN)]
    for name, c in zip(('visible', 'masked', 'thrown'), counts):
        if (c != c[0]).any():
            raise ValueError(f'samples of one batch have different numbers of {name} patches '
                             f'({c.tolist()}); the mask generator must give fixed counts')
    n_vis, n_mask = int(counts[0][0]), int(counts[1][0])
    if n_vis == 0:
        raise ValueError('the token mask leaves no visible patch')
    # visible (key 0) first, then masked (1), then thrown (2); stable keeps patch order.
    key = torch.where(token_mask == VISIBLE, 0, torch.where(token_mask == MASKED, 1, 2))
    order = torch.argsort(key, dim=1, stable=True)
    return order[:, :n_vis], order[:, n_vis:n_vis + n_mask], order[:, n_vis + n_mask:]


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``x[b, ids[b]]`` for ``x`` of shape ``(B, L, C)`` (or ``(1, L, C)``, broadcast)."""
    if x.shape[0] == 1 and ids.shape[0] > 1:
        x = x.expand(ids.shape[0], -1, -1)
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def kept_indices(token_mask: torch.Tensor) -> torch.Tensor:
    """Indices of the patches that are not thrown (visible or masked), in ascending order.

    Args:
        token_mask (torch.Tensor): ``(B, L)`` with values in {1, -1, 0}.

    Returns:
        torch.Tensor: ``(B, L_vis + L_mask)``.
    """
    thrown = (token_mask == THROWN)
    n_thrown = thrown.sum(dim=1)
    if (n_thrown != n_thrown[0]).any():
        raise ValueError(f'samples of one batch have different numbers of thrown patches '
                         f'({n_thrown.tolist()}); the mask generator must give fixed counts')
    order = torch.argsort(thrown.to(torch.int8), dim=1, stable=True)
    return order[:, :token_mask.shape[1] - int(n_thrown[0])]


def scatter_tokens(values: torch.Tensor, ids: torch.Tensor, length: int) -> torch.Tensor:
    """Place ``values (B, n, C)`` at positions ``ids (B, n)`` of a zero ``(B, length, C)``."""
    full = values.new_zeros(values.shape[0], length, values.shape[-1])
    return full.scatter(1, ids.unsqueeze(-1).expand_as(values), values)


class MaskedPatchLossMixin:
    """``loss`` for AMT algorithms: the head's pixel loss over the masked patches only.

    The host provides ``predict_patches(inputs, token_mask) -> (pred (B, L, P), token_mask)``
    and an mmpretrain ``MAEPretrainHead``-style ``head`` (patchify, optional norm_pix target,
    loss averaged over ``mask``). Thrown and visible patches carry zero weight.
    """

    def loss(self, inputs: torch.Tensor, data_samples: List, **kwargs) -> dict:
        """Reconstruction loss over the masked patches.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            data_samples (list[DataSample]): Each carries ``mask`` at the model patch grid.

        Returns:
            dict[str, torch.Tensor]: ``{'loss': ...}``.
        """
        token_mask = stack_token_masks(data_samples, inputs.device)
        pred, token_mask = self.predict_patches(inputs, token_mask)
        loss = self.head.loss(pred, inputs, (token_mask == MASKED).to(pred.dtype))
        return dict(loss=loss)
