"""DET and ROC curves, ROC AUC and average precision (fake = positive class, ``score >= t`` = fake).

All curves come from one sweep over the distinct scores (:func:`._det.det_counts`), so tied scores are
never split between operating points.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from ._det import det_counts
from ._validation import _validate


def probit(rates: Any) -> np.ndarray:
    """Standard normal deviate of each rate (the DET plot's axis scale); 0 -> -inf, 1 -> +inf."""
    return ndtri(np.asarray(rates, dtype=np.float64))


class DETCurve(NamedTuple):
    """Detection error trade-off: FPR and FNR at each threshold (ascending; the last is +inf).

    ``fpr`` = reals flagged fake / reals (false alarm); ``fnr`` = fakes not flagged / fakes (miss).
    """

    fpr: np.ndarray
    fnr: np.ndarray
    thresholds: np.ndarray

    @property
    def fpr_probit(self) -> np.ndarray:
        """FPR on the normal-deviate scale, for plotting a DET curve on linear axes."""
        return probit(self.fpr)

    @property
    def fnr_probit(self) -> np.ndarray:
        """FNR on the normal-deviate scale, for plotting a DET curve on linear axes."""
        return probit(self.fnr)


class ROCCurve(NamedTuple):
    """ROC points in sklearn's order: thresholds descending, starting at +inf (nothing flagged: 0, 0)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def det_curve(scores: Any, labels: Any) -> DETCurve:
    """DET curve at every distinct score plus +inf (first point: FPR 1, FNR 0; last: FPR 0, FNR 1)."""
    counts = det_counts(*_validate(scores, labels))
    return DETCurve(
        fpr=counts.false_alarms / counts.n_real,
        fnr=counts.misses / counts.n_fake,
        thresholds=counts.thresholds,
    )


def roc_curve(scores: Any, labels: Any) -> ROCCurve:
    """ROC curve, one point per distinct score: ``sklearn.metrics.roc_curve(drop_intermediate=False)``."""
    counts = det_counts(*_validate(scores, labels))
    return ROCCurve(
        fpr=(counts.false_alarms / counts.n_real)[::-1],
        tpr=(1.0 - counts.misses / counts.n_fake)[::-1],
        thresholds=counts.thresholds[::-1],
    )


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic: P(fake score > real score) + 0.5 P(tie)."""
    score_array, is_fake = _validate(scores, labels)
    n_fake = int(np.count_nonzero(is_fake))
    n_real = is_fake.size - n_fake
    ranks = rankdata(score_array, method="average")  # ties share their mean rank = count 0.5 each
    rank_sum = float(ranks[is_fake].sum())
    return (rank_sum - n_fake * (n_fake + 1) / 2.0) / (n_fake * n_real)


def average_precision(scores: Any, labels: Any) -> float:
    """Average precision with fake as positive: sum over thresholds of (recall step) x precision.

    Step-wise, without interpolation, as ``sklearn.metrics.average_precision_score``.
    """
    counts = det_counts(*_validate(scores, labels))
    flagged_thresholds = slice(0, counts.thresholds.size - 1)  # drop +inf: nothing flagged, no precision
    true_positives = (counts.n_fake - counts.misses)[flagged_thresholds]
    flagged = true_positives + counts.false_alarms[flagged_thresholds]
    precision = true_positives / flagged
    recall = np.append(true_positives, 0) / counts.n_fake
    return float(np.sum((recall[:-1] - recall[1:]) * precision))
