"""The AMT token mask and its split into visible, masked and thrown patches.

The mask (1 = masked, -1 = thrown, 0 = visible, one value per model patch) is drawn per sample
by ``AMTMaskGenerator`` in the dataloader workers. The data preprocessor (``AMTDataPreprocessor``)
stacks the batch on the CPU, checks the counts once and turns it into a :class:`TokenSplit`:
three index tensors whose widths are the counts. The model only gathers and scatters with
them, so its forward pass never needs a value from the device (no host-device synchronisation)
and its shapes are static for ``torch.compile``.
"""
import warnings
from typing import List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from mmpretrain.models.losses import PixelReconstructionLoss

from .compile_ready import plain_drop_probs

MASKED, THROWN, VISIBLE = 1, -1, 0


class TokenSplit(NamedTuple):
    """Patch indices of a batch by role; each row of one field has the same count.

    Attributes:
        visible (torch.Tensor): ``(B, L_vis)`` int64, ascending patch order.
        masked (torch.Tensor): ``(B, L_mask)`` int64, ascending patch order.
        thrown (torch.Tensor): ``(B, L_throw)`` int64, ascending patch order.
    """

    visible: torch.Tensor
    masked: torch.Tensor
    thrown: torch.Tensor

    @property
    def num_patches(self) -> int:
        """``L``, the patches per image (all three roles)."""
        return self.visible.shape[1] + self.masked.shape[1] + self.thrown.shape[1]

    @classmethod
    def from_mask(cls, token_mask: torch.Tensor) -> 'TokenSplit':
        """Split a batch of token masks; the one place where counts are checked.

        Meant for the CPU side (data preprocessor, tools): the checks read values, which on an
        accelerator would synchronise with the host.

        Args:
            token_mask (torch.Tensor): ``(B, L)`` or ``(B, h, w)``, values in {1, -1, 0}.

        Returns:
            TokenSplit: Indices on the mask's device.

        Raises:
            ValueError: If a value is not in {1, -1, 0}, the samples of the batch have
                different counts (they cannot be batched) or no patch is visible.
        """
        if token_mask.dim() not in (2, 3):
            raise ValueError(f'token mask must be (B, L) or (B, h, w), got '
                             f'{tuple(token_mask.shape)}')
        mask = token_mask.reshape(token_mask.shape[0], -1)
        counts = torch.stack([(mask == v).sum(1) for v in (VISIBLE, MASKED, THROWN)])  # (3, B)
        if bool((counts.sum(0) != mask.shape[1]).any()):
            raise ValueError('token mask values must be 1 (masked), -1 (thrown) or 0 (visible), '
                             f'got {sorted(set(mask.unique().tolist()))}')
        for name, c in zip(('visible', 'masked', 'thrown'), counts):
            if bool((c != c[0]).any()):
                raise ValueError(
                    f'samples of one batch have different numbers of {name} patches '
                    f'({c.tolist()}); AMTMaskGenerator (train_dataloader.dataset.pipeline) '
                    'must give fixed counts')
        n_vis, n_mask = int(counts[0, 0]), int(counts[1, 0])
        if n_vis == 0:
            raise ValueError('the token mask leaves no visible patch (AMTMaskGenerator: '
                             'mask_ratio + throw_ratio, or random_mask_ratio, is too high)')
        # Sort key: visible 0, masked 1, thrown 3 (the two low bits of 0, 1, -1); a stable sort
        # keeps patch order within each role. On the CPU numpy's radix sort is 4x torch's.
        key = mask & 3
        if key.device.type == 'cpu':
            order = torch.from_numpy(
                np.argsort(key.to(torch.uint8).numpy(), axis=1, kind='stable').astype(np.int64))
        else:
            order = torch.argsort(key, dim=1, stable=True)
        return cls(order[:, :n_vis].contiguous(), order[:, n_vis:n_vis + n_mask].contiguous(),
                   order[:, n_vis + n_mask:].contiguous())

    @classmethod
    def from_data_samples(cls, data_samples: Sequence) -> 'TokenSplit':
        """:meth:`from_mask` of the ``mask`` fields of packed data samples."""
        return cls.from_mask(stack_token_masks(data_samples))

    def to_device(self, device: torch.device) -> 'TokenSplit':
        """The split on ``device`` (non-blocking where the source is pinned)."""
        return TokenSplit(*(t.to(device, non_blocking=True) for t in self))

    def token_mask(self) -> torch.Tensor:
        """The flat ``(B, L)`` int64 token mask (1 masked, -1 thrown, 0 visible)."""
        mask = self.visible.new_full((self.visible.shape[0], self.num_patches), VISIBLE)
        mask.scatter_(1, self.masked, MASKED)
        return mask.scatter_(1, self.thrown, THROWN)


@torch.compiler.disable
def stack_patch_weights(data_samples: list) -> Optional[torch.Tensor]:
    """The samples' ``patch_weight`` fields (``AMTMaskGenerator(loss_weight_temperature=...)``)
    as one flat ``(B, L)`` float32 tensor, or None when the samples carry none.

    Host work, kept out of torch.compile as ``split_batch`` is (a loop over the samples).

    Raises:
        ValueError: If only some samples carry weights.
    """
    has = ['patch_weight' in s for s in data_samples]
    if not any(has):
        return None
    if not all(has):
        raise ValueError(f'{sum(has)} of {len(has)} samples carry patch_weight: every '
                         'AMTMaskGenerator of the pipeline must set loss_weight_temperature')
    return torch.stack(
        [torch.as_tensor(s.patch_weight, dtype=torch.float32).reshape(-1) for s in data_samples])


def stack_token_masks(data_samples: Sequence,
                      device: Optional[torch.device] = None) -> torch.Tensor:
    """Collect the ``mask`` field of each data sample into a flat token mask.

    Args:
        data_samples (list[DataSample]): Samples packed by ``PackInputs`` after
            ``AMTMaskGenerator``; each ``mask`` is ``(h, w)``.
        device (torch.device, optional): Where the result goes. Defaults to the masks' device.

    Returns:
        torch.Tensor: ``(B, h * w)`` int64 token mask.
    """
    masks: List[torch.Tensor] = []
    for i, sample in enumerate(data_samples):
        mask = sample.get('mask')
        if mask is None:
            raise KeyError(f'data sample {i} has no `mask`: put AMTMaskGenerator (and PackInputs '
                           'after it) in the training pipeline')
        masks.append(torch.as_tensor(mask))
    stacked = torch.stack(masks)
    return stacked.reshape(stacked.shape[0], -1).to(device=device, dtype=torch.long)


def gather_tokens(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``x[b, ids[b]]`` for ``x`` of shape ``(B, L, C)`` (or ``(1, L, C)``, broadcast)."""
    if x.shape[0] == 1 and ids.shape[0] > 1:
        x = x.expand(ids.shape[0], -1, -1)
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def scatter_tokens(values: torch.Tensor, ids: torch.Tensor, length: int) -> torch.Tensor:
    """Place ``values (B, n, C)`` at positions ``ids (B, n)`` of a zero ``(B, length, C)``."""
    full = values.new_zeros(values.shape[0], length, values.shape[-1])
    return full.scatter(1, ids.unsqueeze(-1).expand_as(values), values)


def split_of(data_samples: Optional[Sequence], token_split: Optional[TokenSplit],
             device: torch.device) -> TokenSplit:
    """The batch's split: given by the data preprocessor, or built from the data samples.

    The second path serves direct calls (``model.loss(inputs, data_samples)`` in tests and
    tools). With masks already on an accelerator it has to synchronise; a Runner should use
    ``AMTDataPreprocessor``, which does the split on the CPU.
    """
    if token_split is not None:
        return token_split
    if data_samples is None:
        raise ValueError('an AMT algorithm needs the token masks: pass `token_split` (from '
                         'AMTDataPreprocessor) or data samples with `mask`')
    masks = stack_token_masks(data_samples)
    if masks.device.type != 'cpu':
        warnings.warn('the token masks reached the model on the device: every step syncs with '
                      'the host. Set model.data_preprocessor.type to AMTDataPreprocessor.')
        masks = masks.cpu()
    return TokenSplit.from_mask(masks).to_device(device)


class MaskedPatchLossMixin:
    """``forward``/``loss``/``predict_patches`` of the AMT algorithms, from one split per step.

    The host provides ``predict_masked(inputs, split) -> (B, L_mask, D)``, the predictions of
    the masked patches in the order of ``split.masked`` (a family mixin of
    :mod:`mmamt.models.utils.amt_family` does), and a ``head`` with a ``loss_module``
    (mmpretrain's ``MAEPretrainHead`` or ``MIMHead``). The loss compares these predictions with
    :meth:`masked_target`, the target of the masked patches only: nothing is scattered to the
    full grid, and visible and thrown patches cost nothing. An algorithm whose target is not
    the head's pixels (HOG, a teacher's features) overrides :meth:`masked_target`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        plain_drop_probs(self)  # no graph break per layer under torch.compile

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor',
                token_split: Optional[TokenSplit] = None,
                patch_weight: Optional[torch.Tensor] = None):
        """mmpretrain's ``forward``, taking the split that ``AMTDataPreprocessor`` adds.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            data_samples (list[DataSample], optional): Packed samples. Defaults to None.
            mode (str): 'tensor' or 'loss'. Defaults to 'tensor'.
            token_split (TokenSplit, optional): The batch's split. Defaults to None (taken
                from the samples' ``mask``).
            patch_weight (torch.Tensor, optional): ``(B, L)`` per-patch loss weights (AttG,
                see :meth:`loss`). Defaults to None.
        """
        if mode == 'loss':
            return self.loss(
                inputs, data_samples, token_split=token_split, patch_weight=patch_weight)
        return super().forward(inputs, data_samples, mode=mode)

    def masked_target(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """The target of the masked patches: by default the head's pixels (``construct_target``).

        ``norm_pix`` statistics are per patch, so normalising every patch and then gathering
        gives the masked patches' targets exactly.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            split (TokenSplit): The batch's split.

        Returns:
            torch.Tensor: ``(B, L_mask, D)`` in the order of ``split.masked``.
        """
        return gather_tokens(self.head.construct_target(inputs), split.masked)

    def loss(self,
             inputs: torch.Tensor,
             data_samples: Optional[List] = None,
             token_split: Optional[TokenSplit] = None,
             patch_weight: Optional[torch.Tensor] = None,
             **kwargs) -> dict:
        """Reconstruction loss over the masked patches.

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            data_samples (list[DataSample], optional): Each carries ``mask`` at the model patch
                grid; only read when ``token_split`` is None.
            token_split (TokenSplit, optional): The batch's split (``AMTDataPreprocessor``).
            patch_weight (torch.Tensor, optional): ``(B, L)`` loss weight of every patch
                (``AMTMaskGenerator(loss_weight_temperature=...)``, AttG): the loss is then
                ``sum(w * loss) / sum(w)`` over the masked patches of the batch, the weights
                passed as the ``mask`` of mmpretrain's ``PixelReconstructionLoss``. Defaults to
                None (read from the samples' ``patch_weight`` on a direct call without
                ``token_split``; otherwise no weights).

        Returns:
            dict[str, torch.Tensor]: ``{'loss': ...}``, the mean over masked patches (and their
            pixels) of the head's criterion, weighted by ``patch_weight`` if given.

        Raises:
            TypeError: If there are weights and the head's loss is not a
                ``PixelReconstructionLoss`` (the loss that takes per-patch weights).
        """
        split = split_of(data_samples, token_split, inputs.device)
        pred = self.predict_masked(inputs, split)
        target = self.masked_target(inputs, split)
        if patch_weight is None and token_split is None and data_samples:
            patch_weight = stack_patch_weights(data_samples)  # a direct call, no preprocessor
        if patch_weight is None:
            return dict(loss=self.head.loss_module(pred, target))
        if not isinstance(self.head.loss_module, PixelReconstructionLoss):
            raise TypeError(
                'patch_weight (AMTMaskGenerator.loss_weight_temperature) needs a pixel loss '
                '(PixelReconstructionLoss); model.head.loss is '
                f'{type(self.head.loss_module).__name__}')
        weights = torch.gather(patch_weight.to(inputs.device), 1, split.masked)
        return dict(loss=self.head.loss_module(pred, target, weights))

    def predict_patches(self, inputs: torch.Tensor, token_mask: torch.Tensor) -> tuple:
        """The predictions of the masked patches placed on the full grid (for pictures).

        Args:
            inputs (torch.Tensor): Images, ``(B, 3, H, W)``.
            token_mask (torch.Tensor): ``(B, L)`` or ``(B, h, w)``, 1 masked, -1 thrown,
                0 visible.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``(B, L, p * p * 3)`` predictions (in the head's
            target space, zero at visible and thrown patches) and the flat ``(B, L)`` int64
            token mask.
        """
        split = TokenSplit.from_mask(token_mask.cpu()).to_device(inputs.device)
        pred = self.predict_masked(inputs, split)
        full = scatter_tokens(pred, split.masked, split.num_patches)
        return full, token_mask.reshape(token_mask.shape[0], -1).long()


def has_pixel_target(model) -> bool:
    """Whether an AMT algorithm predicts pixels (a head with ``patchify``), so that its
    predictions can be drawn as a reconstruction (MAE, MFF, SimMIM; not MaskFeat's HOG or EVA's
    teacher features)."""
    return isinstance(model, MaskedPatchLossMixin) and hasattr(
        getattr(model, 'head', None), 'patchify')
