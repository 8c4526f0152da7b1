"""AMT's mask generator: attention-driven masking and throwing."""
import math
import warnings
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from mmamt.models.utils.cls_attention import MAP_NORMS
from mmamt.models.utils.token_mask import MASKED, THROWN
from mmamt.utils.array import upscale_nearest
from .attention_view import current_view, sample_map


def _check_ratio(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f'AMTMaskGenerator: {name}={value} must be in [0, 1)')


def patch_counts(num_patches: int,
                 mask_ratio: float,
                 throw_ratio: float,
                 rounding: str = 'floor') -> Tuple[int, int]:
    """Fixed per-sample counts of masked and thrown patches.

    ``n_mask = round(L * mask_ratio)`` and ``n_mask + n_throw = round(L * (mask_ratio +
    throw_ratio))`` with ``round`` = floor (MAE) or ceil (SimMIM). A tiny tolerance keeps float
    error from moving a count (``0.29 * 100`` is 28.999999999999996).
    """
    if rounding == 'floor':
        rnd = lambda v: int(math.floor(v + 1e-6))  # noqa: E731
    elif rounding == 'ceil':
        rnd = lambda v: int(math.ceil(v - 1e-6))  # noqa: E731
    else:
        raise ValueError(f"AMTMaskGenerator: rounding='{rounding}' must be 'floor' or 'ceil'")
    n_mask = rnd(num_patches * mask_ratio)
    n_total = rnd(num_patches * (mask_ratio + throw_ratio))
    return n_mask, n_total - n_mask


THROW_MODES = ('next', 'least', 'least_first')


@TRANSFORMS.register_module()
class AMTMaskGenerator(BaseTransform):
    """Draw the AMT token mask from the sample's attention map.

    Each mask patch gets the weight of the attention map over it (the map follows the view
    through ``AMTRandomResizedCrop``/``AMTRandomFlip``), plus a small floor. A full order of the
    patches is drawn by weighted sampling without replacement (Gumbel top-k, which is
    ``multinomial(w, L)`` without replacement); the first ``n_mask`` are masked, the next
    ``n_throw`` thrown, the rest visible. Counts are exact for every sample, so batches stack.
    Before AMT is active (no refresh yet) it is plain random masking at ``random_mask_ratio``,
    with no throwing.

    **Required Keys:** ``img``; optional ``attn_map``, ``amt_active``, ``amt_view`` (from
    ``LoadAttentionMap``). **Added Keys:** ``mask``, int8 ``(h, w)`` at the *model* patch grid:
    1 masked, -1 thrown, 0 visible; with ``loss_weight_temperature`` also ``patch_weight``,
    float32 ``(h, w)`` at the model patch grid (pack it with
    ``PackInputs(algorithm_keys=['patch_weight'])``).

    Args:
        input_size (int): Side of the (square) input image. Defaults to 224.
        mask_patch_size (int): Side of a mask patch (32 for SimMIM). Defaults to 16.
        model_patch_size (int): The ViT's patch size. Defaults to 16.
        mask_ratio (float): Share of mask patches masked when AMT is active. Defaults to 0.45.
        throw_ratio (float): Share of mask patches thrown when AMT is active. Defaults to 0.40.
        random_mask_ratio (float): Share masked before AMT starts. Defaults to 0.75.
        rounding (str): 'floor' (MAE) or 'ceil' (SimMIM) for the counts. Defaults to 'floor'.
        min_weight (float): Floor added to every weight (min-max maps have zeros, and sampling
            without replacement needs positive weights). Defaults to 1e-3.
        mask_power (float): How strongly attention steers the order of the draw: the weights
            are ``w ** mask_power``. 1 is the reference, 0 a uniform draw (the attention then
            only acts through ``throw_mode='least'``), values in between soften it.
            In [0, 8]. Defaults to 1.0.
        throw_mode (str): Which patches are thrown. ``'next'`` (the reference): the ``n_throw``
            drawn right after the masked ones, i.e. the next most attended. ``'least'``: drawn
            from the patches not masked with weights ``w ** -throw_power``, so the least attended
            ("redundant") patches are thrown and the visible ones lean to the object.
            ``'least_first'``: the ``n_throw`` least attended patches are drawn first (weights
            ``w ** -throw_power``) and thrown; the masked ones are then drawn from the kept
            patches with ``w ** mask_power``. The attention decides what is worth modelling,
            so masked and visible patches both come from the attended region (the encoder
            keeps seeing the object, the loss is spent on it). Defaults to 'next'.
        throw_power (float): Strength of ``throw_mode='least'`` / ``'least_first'``; 0 throws
            uniformly at random. In [0, 8]. Defaults to 1.0.
        ramp_refreshes (int): Ramp the guidance up over this many attention refreshes: after
            refresh ``k`` both powers are scaled by ``min(1, k / ramp_refreshes)``, so an immature
            first map steers little (as hard-patch mining ramps up its difficulty). 0: full
            strength from the first refresh (the reference). Defaults to 0.
        map_norm (str): How the refresh pass turns the per-head [CLS] attention into the map
            this generator reads: ``'minmax'`` (the reference: each head min-max normalised,
            then averaged, so every map spans [0, 1]) or ``'max'`` (the head average divided by
            its maximum: weights proportional to the attention, so a flat attention steers
            little); see :func:`mmamt.models.utils.normalize_attention`. The refresh hook reads
            it from here and records it with the bank (``made_with['maps']['map_norm']``), where
            resumes and tools read it. Defaults to 'minmax'.
        loss_weight_temperature (float, optional): Weight each patch's reconstruction loss
            by the map, as AttG (Sick et al., WACV 2025) does: ``exp(m / T)`` with ``m`` the
            map over the patch at the model grid, min-max normalised per image, and ``T``
            this temperature (> 0; smaller weights the attended patches more: the most
            attended patch counts ``exp(1 / T)`` times the least). The algorithm's loss is
            then ``sum(w * loss) / sum(w)`` over the masked patches of the batch. Before AMT
            is active (or on a constant map) every weight is 1. With ``throw_ratio=0`` and
            ``mask_power=0`` masking stays random and the map acts on the loss alone (AttG's
            control of map against masking policy). AttG anneals ``T`` on a cosine; here it
            is fixed. Defaults to None (no weights: every masked patch counts the same).
    """

    def __init__(self,
                 input_size: int = 224,
                 mask_patch_size: int = 16,
                 model_patch_size: int = 16,
                 mask_ratio: float = 0.45,
                 throw_ratio: float = 0.40,
                 random_mask_ratio: float = 0.75,
                 rounding: str = 'floor',
                 min_weight: float = 1e-3,
                 mask_power: float = 1.0,
                 throw_mode: str = 'next',
                 throw_power: float = 1.0,
                 ramp_refreshes: int = 0,
                 map_norm: str = 'minmax',
                 loss_weight_temperature: Optional[float] = None) -> None:
        for name, value in (('input_size', input_size), ('mask_patch_size', mask_patch_size),
                            ('model_patch_size', model_patch_size)):
            if int(value) != value or value < 1:
                raise ValueError(f'AMTMaskGenerator: {name}={value} must be a positive integer')
        if input_size % mask_patch_size:
            raise ValueError(f'AMTMaskGenerator: input_size={input_size} must be divisible by '
                             f'mask_patch_size={mask_patch_size}')
        if mask_patch_size % model_patch_size:
            raise ValueError(f'AMTMaskGenerator: mask_patch_size={mask_patch_size} must be '
                             f'divisible by model_patch_size={model_patch_size}')
        _check_ratio('mask_ratio', mask_ratio)
        _check_ratio('throw_ratio', throw_ratio)
        _check_ratio('random_mask_ratio', random_mask_ratio)
        if mask_ratio + throw_ratio >= 1.0:
            raise ValueError(f'AMTMaskGenerator: mask_ratio + throw_ratio = '
                             f'{mask_ratio + throw_ratio:g} must be < 1')
        if not min_weight > 0:
            raise ValueError(f'AMTMaskGenerator: min_weight={min_weight} must be > 0')
        for name, value in (('mask_power', mask_power), ('throw_power', throw_power)):
            if not 0.0 <= value <= 8.0:
                raise ValueError(f'AMTMaskGenerator: {name}={value} must be in [0, 8]')
        if throw_mode not in THROW_MODES:
            raise ValueError(f'AMTMaskGenerator: throw_mode={throw_mode!r} must be one of '
                             f'{THROW_MODES}')
        if int(ramp_refreshes) != ramp_refreshes or ramp_refreshes < 0:
            raise ValueError(f'AMTMaskGenerator: ramp_refreshes={ramp_refreshes} must be an '
                             'integer >= 0')
        if map_norm not in MAP_NORMS:
            raise ValueError(f'AMTMaskGenerator: map_norm={map_norm!r} must be one of '
                             f'{MAP_NORMS}')
        if loss_weight_temperature is not None and not 0 < loss_weight_temperature <= 100:
            raise ValueError(f'AMTMaskGenerator: loss_weight_temperature='
                             f'{loss_weight_temperature} must be in (0, 100] (or None: no loss '
                             'weights)')
        self.loss_weight_temperature = loss_weight_temperature
        self.map_norm = map_norm
        self.mask_power = float(mask_power)
        self.throw_mode = throw_mode
        self.throw_power = float(throw_power)
        self.ramp_refreshes = int(ramp_refreshes)
        self.input_size = int(input_size)
        self.mask_patch_size = int(mask_patch_size)
        self.model_patch_size = int(model_patch_size)
        self.mask_ratio = mask_ratio
        self.throw_ratio = throw_ratio
        self.random_mask_ratio = random_mask_ratio
        self.rounding = rounding
        self.min_weight = min_weight
        self.grid = self.input_size // self.mask_patch_size
        self.scale = self.mask_patch_size // self.model_patch_size
        self.num_patches = self.grid**2
        self.amt_counts = patch_counts(self.num_patches, mask_ratio, throw_ratio, rounding)
        self.random_counts = patch_counts(self.num_patches, random_mask_ratio, 0.0, rounding)
        for key, (n_mask, n_throw) in (('mask_ratio + throw_ratio', self.amt_counts),
                                       ('random_mask_ratio', self.random_counts)):
            if n_mask + n_throw >= self.num_patches:
                raise ValueError(
                    f'AMTMaskGenerator: {key} leaves no visible patch of the '
                    f'{self.grid}x{self.grid} mask grid ({n_mask} masked, {n_throw} thrown)')
        # No masked patch means a loss averaged over nothing: NaN at every step.
        lowest = f'[{1 / self.num_patches:g}, 1)' if rounding == 'floor' else '(0, 1)'
        for key, value, (n_mask, _) in (('mask_ratio', mask_ratio, self.amt_counts),
                                        ('random_mask_ratio', random_mask_ratio,
                                         self.random_counts)):
            if n_mask < 1:
                raise ValueError(
                    f'AMTMaskGenerator: {key}={value} masks no patch of the {self.grid}x'
                    f'{self.grid} mask grid (the loss would be NaN); it must be in {lowest}')
        self._warned = False

    @staticmethod
    def _map_over_view(results: dict, side: int) -> Optional[np.ndarray]:
        """The sample's map over its view at a ``side x side`` grid, float32; None without a map
        or when the map is NaN, infinite or constant there."""
        attn_map = results.get('attn_map')
        if attn_map is None:
            return None
        m = sample_map(attn_map, current_view(results), (side, side))
        spread = float(m.max() - m.min())  # NaN if any value is NaN, inf if any is inf
        return m if spread > 1e-8 and spread != np.inf else None

    def patch_weights(self, results: dict) -> np.ndarray:
        """Sampling weight of each mask patch, ``(grid * grid,)``, all > 0.

        With ``ramp_refreshes`` the weights are raised to ``min(1, k / ramp_refreshes)`` after
        refresh ``k`` (``amt_refreshes`` from ``LoadAttentionMap``); :meth:`draw` then raises
        them to its powers, so the ramp scales both powers.
        """
        m = self._map_over_view(results, self.grid)
        if m is None:
            if results.get('attn_map') is not None and not self._warned:
                warnings.warn(f'AMTMaskGenerator: sample {results.get("sample_idx")} has a NaN or '
                              'constant attention map; using uniform weights (warned once)')
                self._warned = True
            return np.ones(self.num_patches, dtype=np.float64)
        w = np.maximum(m.ravel(), 0.0, dtype=np.float64) + self.min_weight
        if self.ramp_refreshes:
            w = w**min(1.0, results.get('amt_refreshes', 0) / self.ramp_refreshes)
        return w

    def loss_weights(self, results: dict) -> np.ndarray:
        """AttG's per-patch loss weights at the model patch grid, float32 ``(h, w)``.

        ``exp(m / T)`` with ``m`` the map over each model patch (following the view), min-max
        normalised per image; all ones before AMT is active or when the map is flat or not
        finite.
        """
        side = self.input_size // self.model_patch_size
        m = self._map_over_view(results, side) if results.get('amt_active', False) else None
        if m is None:
            return np.ones((side, side), dtype=np.float32)
        m = m.astype(np.float64)
        lo, hi = m.min(), m.max()
        return np.exp((m - lo) / (hi - lo) / self.loss_weight_temperature).astype(np.float32)

    @staticmethod
    def _race(weights: np.ndarray) -> np.ndarray:
        """A Plackett-Luce order of the indices: weighted sampling without replacement."""
        # Exponential race: E_i / w_i with E_i ~ Exp(1) in ascending order is a Plackett-Luce
        # draw of the order, the same law as Gumbel top-k on log w (-log E_i is Gumbel).
        return np.argsort(np.random.standard_exponential(weights.shape[0]) / weights, kind='stable')

    def draw(self, weights: np.ndarray, n_mask: int, n_throw: int) -> np.ndarray:
        """Token mask on the mask grid from weights, ``(grid, grid)`` int8.

        The order of all patches is drawn with ``weights ** mask_power``; the first ``n_mask``
        are masked. ``throw_mode='next'`` throws the next ``n_throw`` of that order,
        ``'least'`` draws them from the rest with ``weights ** -throw_power``.
        ``'least_first'`` draws the thrown ones first, from all patches with
        ``weights ** -throw_power``, and the masked ones from the rest.
        """
        mask = np.zeros(self.num_patches, dtype=np.int8)
        if self.throw_mode == 'least_first':
            thrown = self._race(weights**-self.throw_power)[:n_throw]
            kept = np.setdiff1d(np.arange(self.num_patches), thrown, assume_unique=True)
            mask[thrown] = THROWN
            mask[kept[self._race(weights[kept]**self.mask_power)[:n_mask]]] = MASKED
            return mask.reshape(self.grid, self.grid)
        order = self._race(weights**self.mask_power if self.mask_power != 1 else weights)
        mask[order[:n_mask]] = MASKED
        if self.throw_mode == 'next':
            mask[order[n_mask:n_mask + n_throw]] = THROWN
        else:
            rest = order[n_mask:]
            mask[rest[self._race(weights[rest]**-self.throw_power)[:n_throw]]] = THROWN
        return mask.reshape(self.grid, self.grid)

    def transform(self, results: dict) -> dict:
        img_shape = results['img'].shape[:2]
        if tuple(img_shape) != (self.input_size, self.input_size):
            raise ValueError(f'AMTMaskGenerator: input_size={self.input_size} but the image is '
                             f'{img_shape[0]}x{img_shape[1]} at this point of the pipeline')
        if results.get('amt_active', False):
            mask = self.draw(self.patch_weights(results), *self.amt_counts)
        else:
            mask = self.draw(np.ones(self.num_patches), *self.random_counts)
        if self.scale > 1:
            mask = upscale_nearest(mask, self.scale)
        results['mask'] = mask
        if self.loss_weight_temperature is not None:
            results['patch_weight'] = self.loss_weights(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size={self.input_size}, '
                f'mask_patch_size={self.mask_patch_size}, '
                f'model_patch_size={self.model_patch_size}, mask_ratio={self.mask_ratio}, '
                f'throw_ratio={self.throw_ratio}, random_mask_ratio={self.random_mask_ratio}, '
                f'rounding={self.rounding!r}, mask_power={self.mask_power}, '
                f'throw_mode={self.throw_mode!r}, throw_power={self.throw_power}, '
                f'ramp_refreshes={self.ramp_refreshes}, map_norm={self.map_norm!r}, '
                f'loss_weight_temperature={self.loss_weight_temperature})')
