"""The two extension points that give an mmpretrain MIM algorithm AMT, one per family.

mmpretrain's ViT masked-image-modeling algorithms feed a mask to their encoder in one of two ways,
and AMT changes the same two things in each: which tokens enter the encoder (thrown patches never
do) and which predictions meet the loss (those of the masked patches only).

- **Visible tokens only** (MAE, MFF, EVA, MILAN): the encoder sees [CLS] + the visible patches; a
  decoder adds mask tokens at the masked positions. Backbone: :class:`VisibleTokensEncoderMixin`
  on the algorithm's own ViT; algorithm: :class:`VisibleTokensMIMMixin`, with mmamt's throwing
  neck ``AMTMAEPretrainDecoder``.
- **Mask tokens** (SimMIM, MaskFeat, BEiT, CAE): the encoder sees [CLS] + the visible patches + a
  learned mask token at each masked position. Backbone: :class:`MaskTokensEncoderMixin`;
  algorithm: :class:`MaskTokensMIMMixin`.

Either algorithm mixin turns the batch's :class:`~mmamt.models.utils.TokenSplit` into the
predictions of the masked patches (``predict_masked``); :class:`MaskedPatchLossMixin` compares
them with the target of the masked patches (``masked_target``, the hook for the algorithm's own
target: pixels, HOG features, a teacher's features). An algorithm overrides only what differs
from its family; ``docs/amt-for-your-mim.md`` walks through one.
"""
from typing import Optional

import torch
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils import resize_pos_embed

from .cls_attention import CLSAttentionMixin
from .token_mask import MaskedPatchLossMixin, TokenSplit, gather_tokens


def _check_split(encoder: torch.nn.Module, token_split, mask, num_patches: int, hw) -> None:
    """Refuse a mask that is not AMT's, or a split of another patch grid."""
    name = type(encoder).__name__
    if mask is not None:
        raise TypeError(f'{name} takes its mask from the data as `token_split` (a TokenSplit '
                        f'from AMTDataPreprocessor); `mask` is accepted only as None (full-image '
                        f'features, as mmpretrain calls it), got {type(mask).__name__}')
    if not isinstance(token_split, TokenSplit):
        raise TypeError(f'{name}: token_split must be a TokenSplit (from AMTDataPreprocessor) '
                        f'or None, got {type(token_split).__name__}; it draws no mask of its own')
    if token_split.num_patches != num_patches:
        raise ValueError(f'the token split covers {token_split.num_patches} patches per image but '
                         f'the image has {num_patches} ({hw[0]}x{hw[1]})')


class _AMTEncoderMixin(CLSAttentionMixin):
    """What both families share: the full-image path, [CLS] attention, position embeddings."""

    def position_embedding(self, hw) -> torch.Tensor:
        """``(1, 1 + L, C)`` position embeddings resized to a ``hw`` patch grid."""
        return resize_pos_embed(
            self.pos_embed,
            self.patch_resolution,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=1)

    def embed_patches(self, x: torch.Tensor):
        """[CLS] with its position embedding, the patch tokens and the patch position embeddings.

        Returns:
            tuple: ``cls (B, 1, C)``, ``patches (B, L, C)``, ``pos (1, L, C)``, ``hw``.
        """
        patches, hw = self.patch_embed(x)
        pos = self.position_embedding(hw)
        cls = (self.cls_token + pos[:, :1]).expand(patches.shape[0], -1, -1)
        return cls, patches, pos[:, 1:], hw

    def embed_visible(self, x: torch.Tensor, token_split, mask=None):
        """What both families feed their blocks first: [CLS] and the visible patches.

        Refuses a mask that is not a ``TokenSplit`` of this image's patch grid.

        Returns:
            tuple: ``cls (B, 1, C)``, ``visible (B, L_vis, C)`` with position embeddings added,
            in the order of ``token_split.visible``, and the patch position embeddings
            ``pos (1, L, C)``.
        """
        cls, patches, pos, hw = self.embed_patches(x)
        _check_split(self, token_split, mask, patches.shape[1], hw)
        return cls, gather_tokens(patches + pos, token_split.visible), pos

    def full_image_features(self, x: torch.Tensor):
        """Features of the unmasked image, as ``VisionTransformer.forward`` computes them."""
        return VisionTransformer.forward(self, x)


class VisibleTokensEncoderMixin(_AMTEncoderMixin):
    """Gives a MAE-style ViT (``MAEViT`` or a subclass) AMT's input: [CLS] + visible patches.

    Masked and thrown patches both stay out of the encoder; which patch is which comes from
    ``AMTMaskGenerator`` in the data pipeline, never from a mask drawn here. The host keeps its
    parameters and state-dict keys. A host whose blocks do more than run in sequence (MFF fuses
    several levels) overrides :meth:`encode`.
    """

    def embed_all_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1 + L, C)``: [CLS] + all patches, position embeddings added, nothing masked."""
        cls, patches, pos, _ = self.embed_patches(x)
        return torch.cat([cls, patches + pos], dim=1)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """The blocks, then the final norm (MAE's encoder)."""
        for layer in self.layers:
            tokens = layer(tokens)
        return self.norm1(tokens)

    def forward(self, x: torch.Tensor, token_split: Optional[TokenSplit] = None, mask: None = None):
        """Encode the visible patches, or the whole image when ``token_split`` is None.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            token_split (TokenSplit, optional): The batch's split into visible, masked and
                thrown patches. None extracts full-image features as ``VisionTransformer`` does
                (a tuple of its ``out_indices`` outputs). Defaults to None.
            mask (None): Only None, as mmpretrain's ``extract_feat`` passes it; the AMT mask
                comes as ``token_split``.

        Returns:
            torch.Tensor: With a split, ``(B, 1 + L_vis, C)``: [CLS] first, then the visible
            patches in the order of ``token_split.visible``.
        """
        if token_split is None and mask is None:
            return self.full_image_features(x)
        cls, visible, _ = self.embed_visible(x, token_split, mask)
        return self.encode(torch.cat([cls, visible], dim=1))


class MaskTokensEncoderMixin(_AMTEncoderMixin):
    """Gives a ViT with a learned ``mask_token`` AMT's input: [CLS] + visible + mask tokens.

    A masked patch is the mask token plus its own position embedding (its pixels are never
    read); thrown patches leave the sequence. The blocks are permutation-equivariant, so the
    order visible-then-masked is as good as patch order and keeps the masked tokens in one
    contiguous slice. The host (``VisionTransformer`` or a subclass such as ``MaskFeatViT``)
    provides ``mask_token`` ``(1, 1, C)``.
    """

    def embed_all_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1 + L, C)``: [CLS] + all patches, position embeddings added, nothing masked."""
        cls, patches, pos, _ = self.embed_patches(x)
        return self.pre_norm(self.drop_after_pos(torch.cat([cls, patches + pos], dim=1)))

    def forward(self, x: torch.Tensor, token_split: Optional[TokenSplit] = None, mask: None = None):
        """Encode the image with masked patches replaced and thrown patches removed.

        Args:
            x (torch.Tensor): Images, ``(B, 3, H, W)``.
            token_split (TokenSplit, optional): The batch's split. None extracts full-image
                features as ``VisionTransformer`` does. Defaults to None.
            mask (None): Only None, as mmpretrain's ``extract_feat`` passes it.

        Returns:
            torch.Tensor: With a split, ``(B, 1 + L_vis + L_mask, C)``: [CLS], the visible
            patches (order of ``token_split.visible``), then the mask tokens of the masked
            patches (order of ``token_split.masked``).
        """
        if token_split is None and mask is None:
            return self.full_image_features(x)
        cls, visible, pos = self.embed_visible(x, token_split, mask)
        masked = self.mask_token.to(visible.dtype) + gather_tokens(pos, token_split.masked)
        tokens = self.pre_norm(self.drop_after_pos(torch.cat([cls, visible, masked], dim=1)))
        for layer in self.layers:
            tokens = layer(tokens)
        return self.ln1(tokens) if self.final_norm else tokens


class VisibleTokensMIMMixin(MaskedPatchLossMixin):
    """The MAE family's AMT step: encoder on the visible patches, the throwing neck after it.

    The host is an mmpretrain algorithm (``MAE``, ``MFF``, ``EVA``) whose backbone has
    :class:`VisibleTokensEncoderMixin` and whose neck is ``AMTMAEPretrainDecoder``.
    """

    def predict_masked(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """``(B, L_mask, D)`` predictions of the masked patches, in the order of
        ``split.masked`` (``D``: the neck's ``predict_feature_dim``)."""
        return self.neck(self.backbone(inputs, token_split=split), split)


class MaskTokensMIMMixin(MaskedPatchLossMixin):
    """The SimMIM family's AMT step: mask tokens in the encoder, only their outputs decoded.

    The host is an mmpretrain algorithm whose backbone has :class:`MaskTokensEncoderMixin`.
    :meth:`decode_masked` maps the encoder outputs of the masked tokens to predictions; override
    it when the neck takes another shape (MaskFeat's ``LinearNeck``).
    """

    def extract_feat(self, inputs: torch.Tensor):
        return self.backbone(inputs)

    def decode_masked(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L_mask, C)`` encoder outputs to ``(B, L_mask, D)`` predictions."""
        return self.neck(tokens)

    def predict_masked(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """``(B, L_mask, D)`` predictions of the masked patches, in the order of
        ``split.masked``."""
        latent = self.backbone(inputs, token_split=split)
        return self.decode_masked(latent[:, 1 + split.visible.shape[1]:])
