"""Hard-decision metrics at a threshold, and error rates at a target operating point.

Decision rule everywhere: ``score >= threshold`` means fake (the positive class). A ratio whose
denominator is zero (e.g. precision when nothing is flagged, FPR with no real samples) is NaN, never a
made-up 0 or 1; these metrics accept input holding a single class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from unmask.errors import MetricError

from ._det import det_counts
from ._validation import _check_threshold, _validate

# Rates are ratios of integers; this absorbs float rounding of the target (0.95 * 20 -> 18.999...).
_RATE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class ThresholdMetrics:
    """Confusion counts and the usual rates at one threshold (fake = positive)."""

    threshold: float
    tp: int  # fakes flagged fake
    fp: int  # reals flagged fake (false alarms)
    tn: int  # reals left real
    fn: int  # fakes left real (misses)
    accuracy: float
    precision: float
    recall: float  # = TPR = 1 - FNR
    f1: float
    fpr: float
    fnr: float


def threshold_metrics(scores: Any, labels: Any, threshold: float = 0.5) -> ThresholdMetrics:
    """Accuracy, precision, recall, F1, FPR and FNR of the decisions ``score >= threshold`` (fake)."""
    threshold = _check_threshold(threshold)
    score_array, is_fake = _validate(scores, labels, need_both_classes=False)
    flagged = score_array >= threshold
    tp = int(np.count_nonzero(flagged & is_fake))
    fp = int(np.count_nonzero(flagged & ~is_fake))
    fn = int(np.count_nonzero(is_fake)) - tp
    tn = int(is_fake.size) - tp - fp - fn
    return ThresholdMetrics(
        threshold=threshold,
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        accuracy=_ratio(tp + tn, is_fake.size),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        fpr=_ratio(fp, fp + tn),
        fnr=_ratio(fn, fn + tp),
    )


def fpr_at_tpr(scores: Any, labels: Any, tpr: float = 0.95) -> float:
    """Lowest FPR among distinct-score operating points whose TPR is at least ``tpr`` (no interpolation)."""
    counts = det_counts(*_validate(scores, labels))
    target = _check_rate("tpr", tpr)
    reached = (1.0 - counts.misses / counts.n_fake) >= target - _RATE_TOLERANCE
    # TPR falls as the threshold rises, so the reaching points are a prefix; FPR is lowest at its end.
    last = int(np.flatnonzero(reached)[-1])
    return float(counts.false_alarms[last] / counts.n_real)


def fnr_at_fpr(scores: Any, labels: Any, fpr: float = 0.01) -> float:
    """Lowest FNR among distinct-score operating points whose FPR is at most ``fpr`` (no interpolation)."""
    counts = det_counts(*_validate(scores, labels))
    target = _check_rate("fpr", fpr)
    allowed = (counts.false_alarms / counts.n_real) <= target + _RATE_TOLERANCE
    # FPR falls as the threshold rises, so the allowed points are a suffix (the +inf point always is).
    first = int(np.flatnonzero(allowed)[0])
    return float(counts.misses[first] / counts.n_fake)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise MetricError(f"{name} must lie in [0, 1], got {value!r}")
    return value
