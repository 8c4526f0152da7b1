"""What mmamt registers into mmseg: ``MAEStrict``.

Configs import it with ``custom_imports=dict(imports=['mmamt.downstream.seg'])``.
"""
from .mae_strict import MAEStrict

__all__ = ['MAEStrict']
