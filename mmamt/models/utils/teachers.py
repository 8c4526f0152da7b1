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
"""
from typing import Optional, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint
from mmpretrain.models.selfsup.milan import CLIPGenerator
from mmpretrain.registry import MODELS

from .token_mask import gather_tokens


@MODELS.register_module()
class FrozenCLIPTeacher(CLIPGenerator):
    """A frozen CLIP image encoder as a feature teacher, kept as its checkpoint.

    Args:
        tokenizer_path (str): The CLIP checkpoint (OpenAI layout), as ``CLIPGenerator``'s.
    """

    def __init__(self, tokenizer_path: str) -> None:
        super().__init__(tokenizer_path)
        self.requires_grad_(False)
        self.train(False)

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

    def train(self, mode: bool = True) -> 'FrozenCLIPTeacher':
        """The teacher stays in eval mode."""
        return super().train(False)

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
