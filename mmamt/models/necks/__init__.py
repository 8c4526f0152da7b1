from .amt_mae_neck import AMTMAEPretrainDecoder, AMTMILANPretrainDecoder

__all__ = ['AMTMAEPretrainDecoder', 'AMTMILANPretrainDecoder']
