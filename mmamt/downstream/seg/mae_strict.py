"""mmseg's MAE backbone, loading its pre-trained weights strictly."""
from mmengine.logging import print_log
from mmseg.models.backbones import MAE
from mmseg.registry import MODELS

from ..keymap import KEY_MAPS, Coverage, match_keys, read_state_dict


@MODELS.register_module()
class MAEStrict(MAE):
    """mmseg ``MAE`` whose pre-trained weights must fit, key for key.

    mmseg's ``MAE.init_weights`` loads ``init_cfg.checkpoint`` non-strictly and ignores
    ``init_cfg.prefix``, so an mmpretrain checkpoint (``backbone.*`` keys) loads nothing and the
    model trains from scratch without a word. This subclass loads the checkpoint written by
    ``tools/model_converters/convert_amt.py --to mmseg`` through
    :func:`mmamt.downstream.keymap.match_keys` with the ``mmseg`` key map and raises
    :class:`~mmamt.downstream.keymap.KeyCoverageError` unless every backbone tensor is filled,
    apart from the documented new ones (``layers.N.gamma_{1,2}`` when the source has no layer
    scale, the relative position bias tables and their index buffers), and every checkpoint
    tensor is used (the final norm ``ln1.*`` is left out on purpose when ``final_norm=False``,
    as the UperNet recipe taps intermediate layers). It logs the key coverage.

    The class name contains ``MAE`` so that mmseg's ``LayerDecayOptimizerConstructor`` gives it
    layer-wise learning rates (it keys on the class name and on ``backbone.layers.N``).

    Args:
        *args: Positional arguments of mmseg ``MAE``.
        **kwargs: Keyword arguments of mmseg ``MAE`` (``img_size``, ``embed_dims``,
            ``num_layers``, ``num_heads``, ``mlp_ratio``, ``out_indices``, ``init_values``,
            ``init_cfg``, ...).
    """

    def init_weights(self) -> None:
        """Initialise like mmseg's MAE, then load the pre-trained weights strictly."""
        if not (isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained'):
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

    def load_pretrained(self, checkpoint: str) -> Coverage:
        """Load a converted checkpoint; raise unless it fits apart from documented new keys.

        Args:
            checkpoint (str): Path or URL of a ``convert_amt.py --to mmseg`` output.

        Returns:
            Coverage: What was loaded, new and dropped.

        Raises:
            KeyCoverageError: If a tensor stays unfilled or a checkpoint tensor is unused.
        """
        # mmseg's own resizing: drops relative_position_index, resizes relative tables and the
        # absolute position embedding to this model's grid.
        state_dict = self.resize_abs_pos_embed(
            self.resize_rel_pos_embed(read_state_dict(checkpoint)))
        dropped = {} if self.final_norm else {r'ln1\.(weight|bias)': 'final_norm=False'}
        tensors, coverage = match_keys(state_dict, self.state_dict(), KEY_MAPS['mmseg'],
                                       type(self).__name__, checkpoint, dropped)
        coverage.check()
        self.load_state_dict(tensors, strict=False)
        if any(k.endswith(('gamma_1', 'gamma_2')) for k in coverage.new) \
                and self.init_values != 1.0:
            print_log(
                f'{type(self).__name__}: the checkpoint has no layer scale, so gamma_1/gamma_2 '
                f'start at init_values={self.init_values}; 1.0 would keep the pre-trained '
                'encoder exact',
                logger='current')
        print_log(coverage.line(), logger='current')
        return coverage
