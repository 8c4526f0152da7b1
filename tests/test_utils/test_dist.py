"""The process group is closed in order at the end of a run (tools/train.py, tools/test.py)."""
import socket

import torch.distributed as torch_dist

from mmamt.utils import finish_distributed


def test_finish_distributed_closes_the_group_and_is_a_no_op_without_one():
    finish_distributed()  # no group: nothing to do, no error
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    torch_dist.init_process_group(
        backend='gloo', init_method=f'tcp://127.0.0.1:{port}', rank=0, world_size=1)
    assert torch_dist.is_initialized()
    finish_distributed()
    assert not torch_dist.is_initialized()
