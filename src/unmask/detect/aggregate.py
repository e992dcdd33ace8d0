"""Combine window scores into one file score.

A mean would average a short spliced fake away; a hard maximum turns every noisy window into a false
alarm on long real files. The default is a soft maximum over window *logits*:
``temperature * log(mean(exp(logit / temperature)))``. It equals the mean as temperature -> inf and the
max as temperature -> 0; at the default it follows the worst windows while a single outlier among many
is damped by ``log(n)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

AGGREGATIONS = ("softmax", "max", "mean")


def aggregate_logits(window_logits: np.ndarray, method: str = "softmax", temperature: float = 1.0) -> float:
    """Pool per-window logits of one file into a file-level logit."""
    logits = np.asarray(window_logits, dtype=np.float64).reshape(-1)
    if logits.size == 0:
        raise ValueError("no windows to aggregate")
    if method == "max":
        return float(logits.max())
    if method == "mean":
        return float(logits.mean())
    if method == "softmax":
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        return float(temperature * (logsumexp(logits / temperature) - np.log(logits.size)))
    raise ValueError(f"unknown aggregation {method!r}; choose one of {AGGREGATIONS}")
