from .attention_refresh_hook import AttentionRefreshHook

__all__ = ['AttentionRefreshHook']
