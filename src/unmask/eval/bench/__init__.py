"""``unmask bench``: detectors x protocols x corruptions, resumable, results in a SQL store."""

from unmask.eval.bench.config import BenchConfig, BenchConfigError, load_config, parse_config
from unmask.eval.bench.runner import BenchOutcome, build_detector, run_bench
from unmask.eval.bench.store import CLEAN, CellKey, ResultStore, default_url

__all__ = [
    "CLEAN",
    "BenchConfig",
    "BenchConfigError",
    "BenchOutcome",
    "CellKey",
    "ResultStore",
    "build_detector",
    "default_url",
    "load_config",
    "parse_config",
    "run_bench",
]
