"""Measuring pre-training: a frozen-encoder linear probe and a side-by-side comparison harness."""
from .compare import (PretrainStatsHook, Variant, build_run_config, compare, format_table,
                      parse_variant, run_variants, scale_schedule, summarize)
from .probe import build_encoder_model, extract, fit_logistic, load_split, probe, probe_model

__all__ = [
    'PretrainStatsHook', 'Variant', 'build_run_config', 'compare', 'format_table',
    'parse_variant', 'run_variants', 'scale_schedule', 'summarize', 'build_encoder_model',
    'extract', 'fit_logistic', 'load_split', 'probe', 'probe_model'
]
