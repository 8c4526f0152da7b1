from .amt_visualization_hook import AMTVisualizationHook
from .attention_refresh_hook import AttentionRefreshHook

__all__ = ['AMTVisualizationHook', 'AttentionRefreshHook']
