"""Measurement of pre-training cost (step time, memory, FLOPs, pipeline, refresh), used by the
thin tools in ``tools/analysis_tools``. Not imported by ``import mmamt``."""
from .bench import (PeakMemory, StepBench, load_config, machine_info, paired_speedup,
                    round_robin)
from .flops import count_flops, training_gflops
from .pipeline_cost import pipeline_cost
from .refresh_cost import refresh_cost, refresh_schedule, refresh_share

__all__ = [
    'PeakMemory', 'StepBench', 'load_config', 'machine_info', 'paired_speedup', 'round_robin',
    'count_flops', 'training_gflops', 'pipeline_cost', 'refresh_cost', 'refresh_schedule',
    'refresh_share'
]
