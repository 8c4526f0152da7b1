"""The data preprocessor of the AMT algorithms: images and token split to the device together."""
from typing import Optional

import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from .token_mask import TokenSplit, stack_patch_weights


@torch.compiler.disable
def split_batch(data_samples: Optional[list]) -> Optional[TokenSplit]:
    """:meth:`TokenSplit.from_data_samples`, or None when the samples carry no mask.

    Kept out of torch.compile: it is host work (a loop over the samples and the count checks),
    which dynamo would otherwise unroll per sample and break on.
    """
    if not data_samples or not all('mask' in s for s in data_samples):
        return None
    return TokenSplit.from_data_samples(data_samples)


@MODELS.register_module()
class AMTDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` that also hands the model the batch's :class:`TokenSplit`.

    The per-sample token masks that ``AMTMaskGenerator`` drew in the dataloader workers are
    stacked and split here, on the CPU, where their counts are checked once; the three index
    tensors then go to the device with the images, as one non-blocking copy each. The model's
    forward pass gets them as ``token_split`` and never reads a device value back. The data
    samples, which the AMT losses do not read, stay on the CPU as they came (no ``B`` small
    transfers per step). Samples that carry AttG's ``patch_weight`` (packed with
    ``PackInputs(algorithm_keys=['patch_weight'])``) also give ``patch_weight``, ``(B, L)`` on
    the device. Batches without masks (validation, feature extraction) are handled
    exactly as ``SelfSupDataPreprocessor`` handles them.

    Args: see ``mmpretrain.models.SelfSupDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise the images and split the token masks.

        Args:
            data (dict): ``inputs`` ``(B, 3, H, W)`` (uint8) and ``data_samples`` from
                ``default_collate``.
            training (bool): Whether it is a training step. Defaults to False.

        Returns:
            dict: ``inputs`` on the device; when the samples carry masks also ``token_split``
            (:class:`TokenSplit` on the device) and ``data_samples`` as given (CPU), and
            ``patch_weight`` ``(B, L)`` on the device when the samples carry it.
        """
        samples = data.get('data_samples')
        split = split_batch(samples)
        if split is None:
            return super().forward(data, training)
        out = super().forward(dict(inputs=data['inputs'], data_samples=None), training)
        # Non-blocking: from pageable memory the copy is staged at once and never waits for the
        # device, whatever ``non_blocking`` says for the images.
        out.update(data_samples=samples, token_split=split.to_device(self.device))
        weights = stack_patch_weights(samples)
        if weights is not None:
            out['patch_weight'] = weights.to(self.device, non_blocking=True)
        return out
