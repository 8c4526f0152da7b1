"""Feature teachers (an algorithm's ``target_generator``) whose weights survive ``init_weights``.

mmpretrain's ``CLIPGenerator`` loads its CLIP in ``__init__``. The Runner then calls the
algorithm's ``init_weights``, and an ``init_cfg`` on the algorithm itself (the demo MAE recipe's
Xavier on every ``Linear`` and constants on every ``LayerNorm``, which a demo-size EVA config
inherits) reaches every submodule, the teacher's included: the features EVA distils then come
from a re-initialised CLIP. (mmpretrain's ViT-B EVA config sets the model's ``init_cfg=None``
and initialises backbone and neck only, so it is not hit.)
``FrozenCLIPTeacher`` is ``CLIPGenerator`` with an ``init_weights`` that reloads the checkpoint
(mmengine initialises a module's children after the module's own ``init_cfg``), and with the
teacher frozen and in eval mode whatever the algorithm's mode.

``FrozenViTTeacher`` is the teacher a project can make offline: an mmpretrain ViT encoder from a
checkpoint of its own (a MAE pre-training run of the comparison harness, say), with the same
interface and the same guarantees.
"""
import copy
import inspect
from typing import Optional, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint
from mmpretrain.models.selfsup.milan import CLIPGenerator
from mmpretrain.registry import MODELS

from .cls_attention import last_block_cls_attention
from .token_mask import TokenSplit, gather_tokens


class _Frozen:
    """A teacher stays in eval mode whatever its algorithm's mode, and learns nothing."""

    def freeze(self) -> None:
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        return super().train(False)


@MODELS.register_module()
class FrozenCLIPTeacher(_Frozen, CLIPGenerator):
    """A frozen CLIP image encoder as a feature teacher, kept as its checkpoint.

    Args:
        tokenizer_path (str): The CLIP checkpoint (OpenAI layout), as ``CLIPGenerator``'s.
    """

    def __init__(self, tokenizer_path: str) -> None:
        super().__init__(tokenizer_path)
        self.freeze()

    def init_weights(self) -> None:
        """Reload the checkpoint over whatever the parent's ``init_cfg`` wrote."""
        state = _load_checkpoint(self.tokenizer_path, map_location='cpu')
        if not isinstance(state, dict):  # a TorchScript archive, as CLIPGenerator accepts
            state = state.state_dict()
        own = self.tokenizer.state_dict()
        missing = sorted(set(own) - set(state))
        if missing:
            raise KeyError(f'model.target_generator.tokenizer_path={self.tokenizer_path!r} lacks '
                           f'{len(missing)} of the teacher\'s weights, e.g. {missing[:3]}')
        self.tokenizer.load_state_dict({k: state[k] for k in own}, strict=True)

    @property
    def num_patches(self) -> int:
        """Patches of the teacher's grid (its positional embeddings, [CLS] left out)."""
        return self.tokenizer.visual.positional_embedding.shape[0] - 1

    @torch.no_grad()
    def forward(self,
                x: torch.Tensor,
                keep: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """The teacher's last-layer features, ``(B, 1 + L, C)`` with [CLS] first, and attention.

        Args:
            x (torch.Tensor): ``(B, 3, H, W)`` images.
            keep (torch.Tensor, optional): ``(B, K)`` patch indices: the teacher then sees [CLS]
                and these patches only (at their own positions) and returns ``(B, 1 + K, C)``
                features, in ``keep``'s order. Defaults to None (every patch).
        """
        if keep is None:
            return super().forward(x)
        visual = self.tokenizer.visual
        dtype = visual.conv1.weight.dtype
        x = visual.conv1(x.type(dtype)).flatten(2).transpose(1, 2)  # (B, L, width)
        pos = visual.positional_embedding.to(x.dtype)
        cls = (visual.class_embedding.to(x.dtype) + pos[0]).expand(x.shape[0], 1, -1)
        patches = gather_tokens(x + pos[1:], keep)
        x = visual.ln_pre(torch.cat([cls, patches], dim=1))
        x, attention, _ = visual.transformer(x.permute(1, 0, 2))
        x = visual.ln_post(x.permute(1, 0, 2))
        if visual.proj is not None:
            x = x @ visual.proj
        return x, attention


@MODELS.register_module()
class FrozenViTTeacher(_Frozen, torch.nn.Module):
    """A frozen mmpretrain ViT encoder as a feature teacher (EVA's, MILAN's ``target_generator``).

    Distillation from a self-made teacher: the encoder of an earlier pre-training run (for
    instance MAE's on the same data), loaded from its Runner checkpoint. Its targets are the
    encoder's last-layer features after the final norm, [CLS] first, as ``CLIPGenerator``'s.

    Args:
        checkpoint (str): A checkpoint holding the encoder's weights under ``prefix`` (a Runner
            checkpoint's ``state_dict`` or a bare state dict).
        encoder (dict): The encoder's config: a ViT with AMT's visible-token interface
            (``AMTMAEViT``, the default type, or another ``VisibleTokensEncoderMixin`` host), of
            the checkpoint's arch, image size and patch size.
        prefix (str): Key prefix of the encoder's weights in the checkpoint. Defaults to
            ``'backbone.'`` (an mmpretrain algorithm's encoder).
    """

    def __init__(self, checkpoint: str, encoder: dict, prefix: str = 'backbone.') -> None:
        super().__init__()
        from .amt_family import VisibleTokensEncoderMixin  # amt_family imports this package
        encoder = copy.deepcopy(dict(encoder))
        encoder.setdefault('type', 'AMTMAEViT')
        self.encoder = MODELS.build(encoder)
        if not isinstance(self.encoder, VisibleTokensEncoderMixin):
            raise TypeError(f"model.target_generator.encoder.type={encoder['type']!r} must be a "
                            'ViT with the visible-token interface (VisibleTokensEncoderMixin), '
                            'as AMTMAEViT')
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.init_weights()
        self.freeze()

    def init_weights(self) -> None:
        """Load the checkpoint (also over whatever an algorithm's ``init_cfg`` wrote)."""
        state = _load_checkpoint(self.checkpoint, map_location='cpu')
        state = state.get('state_dict', state)
        own = self.encoder.state_dict()
        missing = sorted(k for k in own if self.prefix + k not in state)
        if missing:
            raise KeyError(f'model.target_generator.checkpoint={self.checkpoint!r} lacks '
                           f'{len(missing)} of the teacher\'s {len(own)} weights under prefix '
                           f'{self.prefix!r}, e.g. {missing[:3]}')
        self.encoder.load_state_dict({k: state[self.prefix + k] for k in own}, strict=True)

    @property
    def num_patches(self) -> int:
        """Patches of the teacher's grid (its positional embeddings, [CLS] left out)."""
        return self.encoder.pos_embed.shape[1] - 1

    @torch.no_grad()
    def forward(self,
                x: torch.Tensor,
                keep: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """The teacher's features and its last-layer [CLS] attention.

        Args:
            x (torch.Tensor): ``(B, 3, H, W)`` images.
            keep (torch.Tensor, optional): ``(B, K)`` patch indices: the teacher then sees [CLS]
                and these patches only (at their own positions). Defaults to None (every patch).

        Returns:
            tuple: features ``(B, 1 + N, C)`` with [CLS] first (``N`` is ``L`` or ``K``, in
            ``keep``'s order) and the [CLS] query row of the last block's attention, averaged
            over the heads, ``(B, 1, 1 + N)`` (row 0 of ``CLIPGenerator``'s matrix, which MILAN
            reads).
        """
        encoder = self.encoder
        cls, patches, pos, _ = encoder.embed_patches(x)
        patches = patches + pos
        if keep is not None:
            patches = gather_tokens(patches, keep)
        tokens, probs = last_block_cls_attention(encoder.layers, torch.cat([cls, patches], dim=1))
        probs = probs.mean(dim=1)  # (B, N), heads averaged
        attention = torch.cat([1 - probs.sum(-1, keepdim=True), probs], dim=-1).unsqueeze(1)
        tokens = encoder.norm1(encoder.layers[-1](tokens))
        return tokens, attention


class TeacherTargetMixin:
    """The target of an AMT algorithm that distils a frozen teacher (EVA, MILAN).

    The target of each masked patch is the teacher's feature of that patch
    (``target_generator``: ``FrozenCLIPTeacher``, ``FrozenViTTeacher`` or mmpretrain's
    ``CLIPGenerator``). Put it before the family mixin so that its :meth:`masked_target` is the
    one used.

    Args:
        teacher_tokens (str): What the teacher sees: ``'all'`` (every patch: its features of a
            masked patch are what they are in context, the algorithm's own target) or ``'kept'``
            ([CLS], the visible and the masked patches; the thrown ones are dropped, which cuts
            the teacher's forward as throwing cuts the student's; needs a teacher whose
            ``forward`` takes ``keep`` and that has ``num_patches``). Defaults to ``'all'``.
        **kwargs: The algorithm's arguments.
    """

    TEACHER_TOKENS = ('all', 'kept')

    def __init__(self, *args, teacher_tokens: str = 'all', **kwargs) -> None:
        if teacher_tokens not in self.TEACHER_TOKENS:
            raise ValueError(f'model.teacher_tokens={teacher_tokens!r}: use one of '
                             f'{self.TEACHER_TOKENS}')
        super().__init__(*args, **kwargs)
        if teacher_tokens == 'kept' and not (hasattr(self.target_generator, 'num_patches')
                                             and 'keep' in inspect.signature(
                                                 self.target_generator.forward).parameters):
            raise TypeError(f"model.teacher_tokens='kept' needs a teacher whose forward takes "
                            f'keep and that has num_patches (FrozenCLIPTeacher, '
                            f'FrozenViTTeacher); model.target_generator is '
                            f'{type(self.target_generator).__name__}')
        self.teacher_tokens = teacher_tokens

    def masked_target(self, inputs: torch.Tensor, split: TokenSplit) -> torch.Tensor:
        """``(B, L_mask, C)``: the teacher's features of the masked patches."""
        if self.teacher_tokens == 'kept' and split.thrown.shape[1]:
            _check_teacher_grid(self.target_generator.num_patches, split)
            keep = torch.cat([split.visible, split.masked], dim=1)
            features, _ = self.target_generator(inputs, keep=keep)  # [CLS], visible, masked
            return features[:, 1 + split.visible.shape[1]:]
        features, _ = self.target_generator(inputs)  # (B, 1 + L, D), [CLS] first
        _check_teacher_grid(features.shape[1] - 1, split)
        return gather_tokens(features[:, 1:], split.masked)


def _check_teacher_grid(teacher_patches: int, split: TokenSplit) -> None:
    if teacher_patches != split.num_patches:
        raise ValueError(f'model.target_generator gives {teacher_patches} patch features per image '
                         f'but the student has {split.num_patches} patches: the teacher checkpoint '
                         'must have the student\'s image size / patch size grid')
