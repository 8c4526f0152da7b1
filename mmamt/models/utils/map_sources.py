"""Where an AMT map comes from: small registered sources that the refresh pass asks for maps.

The refresh pass (:mod:`mmamt.engine.refresh`) runs one no-grad forward per batch of the
deterministic view and asks the run's source for per-image attention rows; the bank stores the
normalised map (:func:`~mmamt.models.utils.normalize_attention`, ``AMTMaskGenerator.map_norm``),
the generator reads it. None of the three knows which source it was. A source is chosen in the
config of the refresh hook, ``AttentionRefreshHook(map_source=dict(type='CLSAttentionMap',
layers=[-1, -2]))``, and a new one is a class registered in mmpretrain's ``MODELS`` that
subclasses :class:`MapSource`.

Shipped sources (every host is a ViT with mmpretrain-style blocks and one [CLS] token,
:class:`~mmamt.models.utils.CLSAttentionMixin`):

- :class:`CLSAttentionMap`: the [CLS] query's attention over the patches, in the blocks named by
  ``layers``. ``layers=[-1]`` (the default) is AMT's map, the last block only; several layers
  average their (min-max normalised) heads together.
- :class:`PatchAttentionMap`: a map that needs no [CLS]: the attention every patch receives from
  the other patches (self-attention excluded), averaged over the patch queries, in the blocks
  named by ``layers`` (Evolved Part Masking's patch-to-patch attention over layers). It
  forms the full patch attention of each chosen block, O(L^2 d), once per refresh only.
- :class:`ReconstructionLossMap`: no attention at all: the algorithm's own reconstruction error
  per patch over a few masked passes (Hard Patches Mining's signal), for any AMT algorithm.
- :class:`FrequencyGuidedMap`: an attention source blended with a low-pass (FFT) saliency of
  the image (the frequency guidance of AMT's journal version, FAMT), or that saliency alone.

A source reads the backbone (:meth:`MapSource.rows`) or, when it needs the decoder and the
target too, the whole algorithm (:meth:`MapSource.maps`); the refresh pass calls ``maps``.
"""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from .cls_attention import cls_attention_probs, normalize_attention

#: The bank record of the default source (the record older banks carry: they resume unchanged).
DEFAULT_SOURCE_RECORD = 'last-layer [CLS] attention, heads averaged'
MAP_SOURCE_KEY = 'map_source'
DEFAULT_SOURCE = 'CLSAttentionMap'


class MapSource:
    """Interface of a map source: attention rows of whole, unmasked images.

    Subclasses implement :meth:`rows`; :meth:`check` refuses a host it cannot read, before
    training. Its constructor arguments are its config (``record`` writes them into the bank).
    """

    def __init__(self, **cfg) -> None:
        self.cfg = dict(type=type(self).__name__, **cfg)

    def check(self, backbone: nn.Module) -> None:
        """Refuse a backbone this source cannot read, naming the config key."""

    def check_model(self, model: nn.Module) -> None:
        """Refuse an algorithm this source cannot read; by default, :meth:`check` of its
        backbone."""
        self.check(model.backbone)

    @torch.no_grad()
    def maps(self, model: nn.Module, x: torch.Tensor, norm: str = 'minmax') -> torch.Tensor:
        """The ``(B, h, w)`` maps the refresh pass asks the algorithm ``model`` for; by default
        its backbone's (:meth:`__call__`). A source that needs more than the encoder (the
        decoder, the loss) overrides this."""
        return self(model.backbone, x, norm)

    def rows(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``(B, K, L)`` non-negative attention rows over the ``L`` patches of ``x``.

        Each of the ``K`` rows (a head of a layer) is normalised and the rows are averaged by
        :func:`~mmamt.models.utils.normalize_attention`.
        """
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, backbone: nn.Module, x: torch.Tensor, norm: str = 'minmax') -> torch.Tensor:
        """The ``(B, h, w)`` float32 map in ``[0, 1]`` of images ``x`` (``(B, 3, H, W)``)."""
        B, _, H, W = x.shape
        patch = backbone.patch_embed.projection.stride
        return normalize_attention(self.rows(backbone, x),
                                   norm).reshape(B, H // patch[0], W // patch[1])

    def record(self) -> Union[str, Dict]:
        """What the bank records as ``made_with['maps']['source']``: the config, or for the
        default source the string older banks carry, so that they resume unchanged."""
        return copy.deepcopy(self.cfg)


def _layer_indices(source: MapSource, layers: Sequence[int], num_layers: int) -> List[int]:
    """``layers`` as non-negative block indices, refused (naming the key) when out of range."""
    name = type(source).__name__
    if not layers:
        raise ValueError(f'{MAP_SOURCE_KEY}.layers={list(layers)} of {name} must name at '
                         'least one block')
    out = []
    for i in layers:
        if int(i) != i or not -num_layers <= i < num_layers:
            raise ValueError(f'{MAP_SOURCE_KEY}.layers={list(layers)} of {name}: {i} must be an '
                             f'integer in [{-num_layers}, {num_layers - 1}] (the backbone has '
                             f'{num_layers} blocks)')
        out.append(int(i) % num_layers)
    if len(set(out)) != len(out):
        raise ValueError(f'{MAP_SOURCE_KEY}.layers={list(layers)} of {name} names a block twice')
    return out


class _LayersSource(MapSource):
    """A source that reads the inputs of some blocks of one forward pass."""

    def __init__(self, layers: Sequence[int] = (-1, )) -> None:
        if isinstance(layers, int) or not all(isinstance(i, int) for i in layers):
            raise ValueError(f'{MAP_SOURCE_KEY}.layers={layers!r} of {type(self).__name__} must '
                             'be a list of block indices, e.g. [-1] or [-1, -2]')
        super().__init__(layers=[int(i) for i in layers])
        self.layers = tuple(int(i) for i in layers)

    def check(self, backbone: nn.Module) -> None:
        _layer_indices(self, self.layers, len(backbone.layers))

    def layer_rows(self, layer: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, heads, L)`` rows of one block from its input ``tokens`` (``(B, 1 + L, C)``)."""
        raise NotImplementedError

    def rows(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        wanted = _layer_indices(self, self.layers, len(backbone.layers))
        tokens = backbone.embed_all_tokens(x)
        out = []
        for i, layer in enumerate(backbone.layers[:max(wanted) + 1]):
            if i in wanted:
                out.append(self.layer_rows(layer, tokens))
            if i < max(wanted):
                tokens = layer(tokens)
        return torch.cat(out, dim=1)


@MODELS.register_module()
class CLSAttentionMap(_LayersSource):
    """The [CLS] query's softmax attention over the patch keys, per head, in chosen blocks.

    ``layers=[-1]`` is AMT's map (the paper's and the reference code's); more layers add their
    heads to the average, each head min-max normalised on its own (``map_norm='minmax'``).

    Args:
        layers (Sequence[int]): Block indices, negative from the last. Defaults to ``(-1,)``.
    """

    def layer_rows(self, layer: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        return cls_attention_probs(layer, tokens)

    def record(self) -> Union[str, Dict]:
        return DEFAULT_SOURCE_RECORD if self.layers == (-1, ) else super().record()


@MODELS.register_module()
class PatchAttentionMap(_LayersSource):
    """The attention each patch receives from the other patches, in chosen blocks: no [CLS].

    For every head, the patch queries' softmax attention over all keys ([CLS] key included, as
    in the block's own forward) is formed, the [CLS] key and each patch's attention to itself are
    dropped, and a patch's row value is the mean over the patch queries of the attention it
    receives. A patch many others look at scores high (Evolved Part Masking reads parts of an
    object this way). It costs one full ``(L, L)`` attention per head of each chosen block.

    Args:
        layers (Sequence[int]): Block indices, negative from the last. Defaults to ``(-1,)``.
    """

    def layer_rows(self, layer: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        attn = layer.attn
        h = layer.ln1(tokens)
        B, N, _ = h.shape
        embed_dims = attn.qkv.out_features // 3
        heads = attn.num_heads
        head_dims = embed_dims // heads
        qkv = F.linear(h, attn.qkv.weight[:2 * embed_dims],
                       None if attn.qkv.bias is None else attn.qkv.bias[:2 * embed_dims])
        q, k = qkv.reshape(B, N, 2, heads, head_dims).permute(2, 0, 3, 1, 4).float()
        with torch.autocast(device_type=q.device.type, enabled=False):
            probs = (q[:, :, 1:] @ k.transpose(-2, -1) * head_dims**-0.5).softmax(dim=-1)
        probs = probs[..., 1:]  # (B, heads, L queries, L keys)
        L = probs.shape[-1]
        probs = probs * (1 - torch.eye(L, device=probs.device, dtype=probs.dtype))
        return probs.sum(dim=2) / max(L - 1, 1)


@MODELS.register_module()
class ReconstructionLossMap(MapSource):
    """The model's own reconstruction error per patch: the hard patches score high (HPM).

    Hard Patches Mining (Wang et al., CVPR 2023) masks the patches the model reconstructs
    worst and keeps the rest of the mask random. Here the error is measured at the refresh, on
    the refresh view: each image is reconstructed ``passes`` times, pass ``p`` keeping the
    ``p``-th of ``passes`` disjoint random groups of patches visible and masking all others,
    so that every patch is predicted ``passes - 1`` times (``passes=4``: MAE's 0.75 masking)
    and its value is the mean error of those predictions against the algorithm's own target
    (``masked_target``; per patch with the head criterion's ``penalty``, squared error for
    heads without one). The most predictable patches score lowest, so AMT throws them first;
    the kept ones are masked at random (``mask_power=0``) or toward the hardest
    (``mask_power>0``, HPM's direction). Any AMT algorithm with
    :class:`~mmamt.models.utils.MaskedPatchLossMixin` (the five shipped) can use it; it needs
    no [CLS]. It costs ``passes`` masked training forwards per image and refresh, no backward
    (the harness counts them). The groups are drawn from ``seed`` afresh in every call, so two
    refreshes differ only through the model.

    (Gathering the error of the training steps instead would cost no forward at all, but a
    training view is a random crop and flip of the image, and mapping its patches back onto the
    bank's grid would leave cells unmeasured; the refresh view is the bank's own grid.)

    With a ``norm_pix`` head the target of every patch has unit variance, so a patch of pure
    grain or sensor noise, unpredictable by construction, scores as hard as an object's edge.
    ``pixel_space=True`` measures the error in pixel units instead: the normalised error times
    the patch's pixel variance (exactly the squared error of the de-normalised prediction), so
    that flat and noisy backgrounds score low.

    ``prefer='easy'`` turns the map round (each image's largest error minus the patch's): the
    most predictable patches score highest and the least predictable are thrown first. On
    images whose background is grain or texture (the digits, objects-a) the error is highest
    on the background, so this is the direction that keeps the object; HPM's direction is the
    default.

    Args:
        passes (int): Reconstructions per image, >= 2; must divide the patches per image.
            Defaults to 4.
        seed (int): Seed of the visible groups. Defaults to 0.
        pixel_space (bool): The error in pixel units (heads with ``norm_pix`` only; without it
            the target already is pixels). Defaults to False: the error the loss sees.
        prefer (str): ``'hard'``: the largest error scores highest (HPM); ``'easy'``: the
            smallest does. Defaults to ``'hard'``.
    """

    def __init__(self,
                 passes: int = 4,
                 seed: int = 0,
                 pixel_space: bool = False,
                 prefer: str = 'hard') -> None:
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
            raise ValueError(f'{MAP_SOURCE_KEY}.passes={passes!r} of ReconstructionLossMap must '
                             'be an integer >= 2')
        if not isinstance(pixel_space, bool):
            raise ValueError(f'{MAP_SOURCE_KEY}.pixel_space={pixel_space!r} of '
                             'ReconstructionLossMap must be true or false')
        if prefer not in ('hard', 'easy'):
            raise ValueError(f"{MAP_SOURCE_KEY}.prefer={prefer!r} of ReconstructionLossMap must "
                             "be 'hard' or 'easy'")
        super().__init__(passes=passes, seed=int(seed), pixel_space=pixel_space, prefer=prefer)
        self.passes, self.seed, self.pixel_space = passes, int(seed), pixel_space
        self.prefer = prefer

    def check(self, backbone: nn.Module) -> None:
        num_patches = int(torch.tensor(backbone.patch_resolution).prod())
        if num_patches % self.passes:
            raise ValueError(f'{MAP_SOURCE_KEY}.passes={self.passes} of ReconstructionLossMap '
                             f'must divide the {num_patches} patches per image '
                             f'({"x".join(str(v) for v in backbone.patch_resolution)})')

    def check_model(self, model: nn.Module) -> None:
        from .token_mask import MaskedPatchLossMixin, has_pixel_target
        if not isinstance(model, MaskedPatchLossMixin):
            raise ValueError(f'{MAP_SOURCE_KEY}=ReconstructionLossMap needs an AMT algorithm '
                             f'that predicts masked patches (MaskedPatchLossMixin: MAEAMT, '
                             f'SimMIMAMT, MFFAMT, MaskFeatAMT, EVAAMT), got {type(model).__name__}')
        if self.pixel_space and not (has_pixel_target(model) and model.head.norm_pix):
            raise ValueError(f'{MAP_SOURCE_KEY}.pixel_space=True of ReconstructionLossMap needs '
                             f'a pixel head with norm_pix=True; {type(model).__name__} has '
                             f'{type(model.head).__name__}'
                             f'{" with norm_pix=False" if has_pixel_target(model) else ""}')
        self.check(model.backbone)

    def rows(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        raise TypeError('ReconstructionLossMap needs the whole algorithm (decoder and target): '
                        'call maps(model, x)')

    def loss_rows(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, L)``: each patch's mean reconstruction error over the passes masking it
        (with ``prefer='easy'``, the image's largest error minus it)."""
        from .token_mask import TokenSplit
        B = x.shape[0]
        L = int(torch.tensor(model.backbone.patch_resolution).prod())
        gen = torch.Generator().manual_seed(self.seed)
        order = torch.stack([torch.randperm(L, generator=gen) for _ in range(B)])
        group = torch.empty_like(order)
        group.scatter_(1, order, (torch.arange(L) * self.passes // L).expand(B, -1).contiguous())
        penalty = getattr(model.head.loss_module, 'penalty', None)
        scale = None
        if self.pixel_space:  # the normalised error times the patch's pixel variance
            scale = model.head.patchify(x).float().var(dim=-1) + 1e-6  # (B, L), as the head
        total = torch.zeros(B, L, device=x.device)
        for p in range(self.passes):
            split = TokenSplit.from_mask((group != p).long()).to_device(x.device)
            pred = model.predict_masked(x, split).float()
            target = model.masked_target(x, split).float()
            err = penalty(pred, target) if penalty is not None else (pred - target)**2
            err = err.reshape(B, split.masked.shape[1], -1).mean(-1)
            if scale is not None:
                err = err * scale.gather(1, split.masked)
            total.scatter_add_(1, split.masked, err)
        error = total / (self.passes - 1)
        if self.prefer == 'easy':
            error = error.amax(dim=1, keepdim=True) - error
        return error[:, None]

    @torch.no_grad()
    def maps(self, model: nn.Module, x: torch.Tensor, norm: str = 'minmax') -> torch.Tensor:
        B, _, H, W = x.shape
        patch = model.backbone.patch_embed.projection.stride
        return normalize_attention(self.loss_rows(model, x),
                                   norm).reshape(B, H // patch[0], W // patch[1])


def lowpass_saliency(x: torch.Tensor, cutoff: float) -> torch.Tensor:
    """``(B, H, W)`` frequency-tuned saliency of images ``x`` (``(B, C, H, W)``).

    Each channel is low-passed in the frequency domain with a Gaussian gain of standard
    deviation ``cutoff`` times the Nyquist frequency (0.5 cycles per pixel; the gain is 1 at
    zero frequency, so the image's mean colour is kept), and a pixel's value is the distance
    of its low-passed colour from the image's mean colour (Achanta et al., "Frequency-tuned
    salient region detection", CVPR 2009). Grain, sensor noise and fine texture are cut by the
    low-pass; a region whose large-scale colour differs from the image's average scores high.
    """
    H, W = x.shape[-2:]
    x = x.float()
    fy = torch.fft.fftfreq(H, device=x.device)[:, None]
    fx = torch.fft.fftfreq(W, device=x.device)[None, :]
    sigma = cutoff * 0.5
    gain = torch.exp(-(fy**2 + fx**2) / (2 * sigma**2))
    low = torch.fft.ifft2(torch.fft.fft2(x) * gain).real
    return (low - x.mean(dim=(-2, -1), keepdim=True)).norm(dim=1)


@MODELS.register_module()
class FrequencyGuidedMap(MapSource):
    """An attention map blended with a low-pass (frequency-domain) map of the image itself.

    AMT's journal extension (FAMT, Gui et al., arXiv 2211.15362 v3, 2024) adds frequency-domain
    guidance to the attention because "attention alone could sometimes focus on inappropriate
    areas"; its formula was not in the sources available here, so this source follows its idea
    with a published saliency of the same kind: :func:`lowpass_saliency` (a Gaussian low-pass in
    the FFT domain, then each pixel's distance from the image's mean colour, Achanta et al.
    2009), averaged over each patch. The map is ``(1 - weight) * attention + weight *
    frequency``, both normalised as the generator's ``map_norm`` asks, so it stays in
    ``[0, 1]``. With ``attention=None`` the map is the frequency map alone: it reads no
    weights and needs no [CLS], so any host can use it, and it costs one FFT per image.

    The low-pass reads the refresh view as the data preprocessor gives it (normalised RGB),
    not a perceptual colour space (Achanta et al. use Lab).

    Args:
        attention (dict | str, optional): The attention source blended in, as
            ``AttentionRefreshHook.map_source`` takes it. Defaults to ``'CLSAttentionMap'``
            (the last block's [CLS] attention); None: the frequency map alone.
        weight (float): The frequency map's share, in (0, 1]; must be 1 without ``attention``.
            Defaults to 0.5.
        cutoff (float): The Gaussian low-pass's standard deviation as a fraction of the
            Nyquist frequency, in (0, 1]. Defaults to 0.25.
    """

    def __init__(self,
                 attention: Union[None, str, Dict] = DEFAULT_SOURCE,
                 weight: float = 0.5,
                 cutoff: float = 0.25) -> None:
        name = 'FrequencyGuidedMap'
        for key, value in (('weight', weight), ('cutoff', cutoff)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ValueError(f'{MAP_SOURCE_KEY}.{key}={value!r} of {name} must be a number '
                                 'in (0, 1]')
        if attention is None and weight != 1:
            raise ValueError(f'{MAP_SOURCE_KEY}.weight={weight} of {name} must be 1 with '
                             'attention=None (the frequency map alone)')
        self.attention = None if attention is None else build_map_source(attention)
        if isinstance(self.attention, FrequencyGuidedMap):
            raise ValueError(f'{MAP_SOURCE_KEY}.attention of {name} must be an attention '
                             'source, not another FrequencyGuidedMap')
        super().__init__(
            attention=None if self.attention is None else self.attention.cfg,
            weight=float(weight),
            cutoff=float(cutoff))
        self.weight, self.cutoff = float(weight), float(cutoff)

    def check(self, backbone: nn.Module) -> None:
        if self.attention is not None:
            self.attention.check(backbone)

    def check_model(self, model: nn.Module) -> None:
        if self.attention is not None:
            self.attention.check_model(model)

    def frequency_map(self, x: torch.Tensor, patch: Sequence[int], norm: str) -> torch.Tensor:
        """``(B, h, w)`` the normalised low-pass map of ``x`` on the patch grid."""
        B, _, H, W = x.shape
        cells = F.avg_pool2d(lowpass_saliency(x, self.cutoff)[:, None], tuple(patch))
        return normalize_attention(cells.reshape(B, 1, -1),
                                   norm).reshape(B, H // patch[0], W // patch[1])

    def _blend(self, attention: Optional[torch.Tensor], x: torch.Tensor, patch: Sequence[int],
               norm: str) -> torch.Tensor:
        freq = self.frequency_map(x, patch, norm)
        if attention is None:
            return freq
        return ((1 - self.weight) * attention.float() + self.weight * freq).clamp_(0, 1)

    @torch.no_grad()
    def maps(self, model: nn.Module, x: torch.Tensor, norm: str = 'minmax') -> torch.Tensor:
        attention = None if self.attention is None else self.attention.maps(model, x, norm)
        return self._blend(attention, x, model.backbone.patch_embed.projection.stride, norm)

    @torch.no_grad()
    def __call__(self, backbone: nn.Module, x: torch.Tensor, norm: str = 'minmax') -> torch.Tensor:
        attention = None if self.attention is None else self.attention(backbone, x, norm)
        return self._blend(attention, x, backbone.patch_embed.projection.stride, norm)

    def rows(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        raise TypeError('FrequencyGuidedMap blends two normalised maps: call it, or maps(model, '
                        'x), not rows()')


def build_map_source(cfg: Union[None, str, Dict, MapSource] = None) -> MapSource:
    """A map source from a config, a registered type name, a bank record or None (the default).

    Args:
        cfg (dict | str | MapSource, optional): ``dict(type=..., **args)``, a type name
            (``'PatchAttentionMap'``), a source, or a bank's ``made_with['maps']['source']``;
            a dict without ``type`` is a ``CLSAttentionMap``. Defaults to None:
            ``CLSAttentionMap(layers=[-1])``, AMT's map.

    Raises:
        ValueError: If the type is not registered or is no :class:`MapSource`, naming the key.
    """
    if isinstance(cfg, MapSource):
        return cfg
    if cfg is None or cfg == DEFAULT_SOURCE_RECORD:
        return CLSAttentionMap()
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    if not isinstance(cfg, dict):
        raise ValueError(f'{MAP_SOURCE_KEY}={cfg!r} must be a registered type name or '
                         "dict(type='CLSAttentionMap', ...)")
    cfg = dict(cfg)
    cfg.setdefault('type', DEFAULT_SOURCE)  # dict(layers=[-1, -2]): the default's layers
    cfg.pop('_scope_', None)
    cls = MODELS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    if not (isinstance(cls, type) and issubclass(cls, MapSource)):
        raise ValueError(f'{MAP_SOURCE_KEY}.type={cfg["type"]!r} is not a registered map source '
                         f'(MapSource subclass in MODELS); shipped: {", ".join(SHIPPED_SOURCES)}')
    cfg.pop('type')
    try:
        return cls(**cfg)
    except TypeError as err:
        raise ValueError(f'{MAP_SOURCE_KEY}={cfg!r} of {cls.__name__}: {err}') from None


SHIPPED_SOURCES = ('CLSAttentionMap', 'PatchAttentionMap', 'ReconstructionLossMap',
                   'FrequencyGuidedMap')
