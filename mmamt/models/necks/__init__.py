from .amt_mae_neck import AMTMAEPretrainDecoder

__all__ = ['AMTMAEPretrainDecoder']
