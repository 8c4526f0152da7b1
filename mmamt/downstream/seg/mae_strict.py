"""mmseg's MAE backbone, loading its pre-trained weights strictly."""
import re
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.models.backbones import MAE
from mmseg.registry import MODELS

from ..errors import PretrainedKeyError

# Parameters mmseg's MAE has and a plain MAE / SimMIM encoder does not (see
# ``mmamt.downstream.convert.new_target_params``).
_NEW_PARAMS = (r'layers\.\d+\.gamma_[12]', r'layers\.\d+\.attn\.relative_position_bias_table',
               # a buffer computed from the grid; mmseg's loader drops it from checkpoints
               r'layers\.\d+\.attn\.relative_position_index')
_FINAL_NORM = ('ln1.weight', 'ln1.bias')


@MODELS.register_module()
class MAEStrict(MAE):
    """mmseg ``MAE`` whose pre-trained weights must fit, key for key.

    mmseg's ``MAE.init_weights`` loads ``init_cfg.checkpoint`` non-strictly and ignores
    ``init_cfg.prefix``, so an mmpretrain checkpoint (``backbone.*`` keys) loads nothing and the
    model trains from scratch without a word. This subclass loads the checkpoint written by
    ``tools/model_converters/convert_amt.py --to mmseg`` and raises unless every backbone
    parameter is filled, apart from the documented new ones (``layers.N.gamma_{1,2}`` when the
    source has no layer scale, relative position bias tables), and every checkpoint tensor is
    used (the final norm ``ln1.*`` is left out on purpose when ``final_norm=False``, as the
    UperNet recipe taps intermediate layers). It logs the key coverage.

    The class name contains ``MAE`` so that mmseg's ``LayerDecayOptimizerConstructor`` gives it
    layer-wise learning rates (it keys on the class name and on ``backbone.layers.N``).

    Args:
        *args: Positional arguments of mmseg ``MAE``.
        **kwargs: Keyword arguments of mmseg ``MAE`` (``img_size``, ``embed_dims``,
            ``num_layers``, ``num_heads``, ``mlp_ratio``, ``out_indices``, ``init_values``,
            ``pretrained``, ``init_cfg``, ...).
    """

    def init_weights(self) -> None:
        """Initialise like mmseg's MAE, then load the pre-trained weights strictly."""
        pretrained = (isinstance(self.init_cfg, dict)
                      and self.init_cfg.get('type') == 'Pretrained')
        if not pretrained:
            super().init_weights()
            return
        # Random init first (what mmseg's MAE does without a checkpoint), so that anything a
        # checkpoint may legitimately lack starts from the recipe's values.
        init_cfg, self.init_cfg = self.init_cfg, None
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        self.load_pretrained(init_cfg['checkpoint'])

    def load_pretrained(self, checkpoint: str) -> Dict[str, List[str]]:
        """Load a converted checkpoint; raise unless it fits apart from documented new keys.

        Args:
            checkpoint (str): Path or URL of a ``convert_amt.py --to mmseg`` output.

        Returns:
            Dict[str, List[str]]: ``loaded``, ``new`` (documented parameters left at their
            initial values) and ``dropped`` (``ln1.*`` when ``final_norm=False``) key lists.

        Raises:
            PretrainedKeyError: If a parameter stays unfilled or a checkpoint tensor is unused.
        """
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
        state_dict = dict(ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {})
        if any(k.startswith('backbone.') for k in state_dict):
            raise PretrainedKeyError(
                f'{checkpoint} has "backbone.*" keys (an mmpretrain checkpoint); convert it with '
                'tools/model_converters/convert_amt.py IN OUT --to mmseg')
        # mmseg's own resizing: drops relative_position_index, resizes relative tables and the
        # absolute position embedding to this model's grid.
        state_dict = self.resize_rel_pos_embed(state_dict)
        state_dict = self.resize_abs_pos_embed(state_dict)
        dropped = []
        if not self.final_norm:
            dropped = [k for k in _FINAL_NORM if state_dict.pop(k, None) is not None]
        missing, unexpected = self._check_keys(state_dict)
        if missing or unexpected:
            raise PretrainedKeyError(
                f'{checkpoint} does not fit {type(self).__name__}: missing {missing}, unused '
                f'{unexpected} (convert the pre-training checkpoint with '
                'tools/model_converters/convert_amt.py --to mmseg and check the arch)')
        self.load_state_dict(state_dict, strict=False)
        own = self.state_dict()
        new = [k for k, _ in self.named_parameters() if k not in state_dict]
        loaded = [k for k in state_dict if k in own]
        if any(k.endswith(('gamma_1', 'gamma_2')) for k in new) and self.init_values != 1.0:
            print_log(
                f'{type(self).__name__}: the checkpoint has no layer scale, so gamma_1/gamma_2 '
                f'start at init_values={self.init_values}; 1.0 would keep the pre-trained '
                'encoder exact', logger='current')
        print_log(
            f'{type(self).__name__}: loaded {len(loaded)} tensors from {checkpoint}; new '
            f'(documented): {_pattern_counts(new)}; dropped: {dropped or "none"}; missing: 0, '
            'unused: 0', logger='current')
        return dict(loaded=loaded, new=new, dropped=dropped)

    def _check_keys(self, state_dict: Dict[str, torch.Tensor]) -> Tuple[List[str], List[str]]:
        """Return (missing non-documented keys, unused or wrongly shaped checkpoint keys)."""
        own = self.state_dict()
        allowed = re.compile('|'.join(f'(?:{p})' for p in _NEW_PARAMS))
        missing = [k for k in own if k not in state_dict and not allowed.fullmatch(k)]
        unexpected = [k for k in state_dict if k not in own]
        unexpected += [f'{k} {tuple(v.shape)} != {tuple(own[k].shape)}'
                       for k, v in state_dict.items()
                       if k in own and tuple(v.shape) != tuple(own[k].shape)]
        return missing, unexpected


def _pattern_counts(keys: List[str]) -> Optional[str]:
    counts: Dict[str, int] = {}
    for key in keys:
        pattern = re.sub(r'^layers\.\d+\.', 'layers.N.', key)
        counts[pattern] = counts.get(pattern, 0) + 1
    return ', '.join(f'{p} x{c}' for p, c in counts.items()) or 'none'
