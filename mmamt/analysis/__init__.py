"""Measuring pre-training: its cost (step time, memory, FLOPs, pipeline, refresh), its result
(a frozen-encoder linear probe and a side-by-side comparison harness) and the attention bank's
statistics per refresh, used by the thin tools in
``tools/analysis_tools`` and ``tools/demo.py``. Not imported by ``import mmamt``."""
from .attention_stats import (bank_report, find_bank_files, format_report, object_mask_path,
                              object_share, role_object_shares)
from .bench import PeakMemory, StepBench, load_config, machine_info, paired_speedup, round_robin
from .compare import PretrainStatsHook, compare, run_variants
from .compute import equal_compute_epochs, forward_gflops, run_gflops, variant_gflops
from .flops import count_flops, training_gflops
from .object_maps import ObjectMaskAsMap
from .pipeline_cost import pipeline_cost
from .probe import build_encoder_model, extract, fit_logistic, load_split, probe, probe_model
from .refresh_cost import refresh_cost, refresh_schedule, refresh_share
from .report import format_attention_table, format_table, summarize
from .variants import (RequestError, Variant, build_run_config, check_request, parse_variant,
                       scale_schedule)

__all__ = [
    'bank_report', 'find_bank_files', 'format_report', 'object_mask_path', 'object_share',
    'role_object_shares', 'PeakMemory', 'StepBench', 'load_config', 'machine_info',
    'paired_speedup', 'round_robin', 'count_flops', 'training_gflops', 'forward_gflops',
    'run_gflops', 'variant_gflops', 'equal_compute_epochs', 'pipeline_cost', 'refresh_cost',
    'refresh_schedule', 'refresh_share', 'PretrainStatsHook', 'Variant', 'build_run_config',
    'compare', 'format_table', 'parse_variant', 'run_variants', 'scale_schedule', 'summarize',
    'check_request', 'RequestError', 'format_attention_table', 'build_encoder_model', 'extract',
    'fit_logistic', 'load_split', 'probe', 'probe_model', 'ObjectMaskAsMap'
]
