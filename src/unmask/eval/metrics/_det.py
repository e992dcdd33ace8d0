"""The one detection-error sweep every threshold-free metric is built on.

Operating points are "flag as fake when ``score >= t``" for ``t`` running over the *distinct* scores in
ascending order, followed by ``t = +inf`` (flag nothing). Tied scores therefore always fall on the same
side of a threshold, whatever their labels. The first point (``t`` = smallest score) flags everything:
0 misses, every real a false alarm; the last flags nothing: every fake a miss, no false alarm.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class DetCounts(NamedTuple):
    """Error counts at every operating point (arrays of equal length, thresholds ascending)."""

    thresholds: np.ndarray  # distinct scores ascending, then +inf
    misses: np.ndarray  # fakes with score < threshold (int64)
    false_alarms: np.ndarray  # reals with score >= threshold (int64)
    n_fake: int
    n_real: int


def sort_by_class(scores: np.ndarray, is_fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(fake scores sorted, real scores sorted)``.

    Two half-size sorts are cheaper than one argsort of everything (value sorts use SIMD kernels,
    argsort of floats does not), which is what makes 10 M scores take about a second.
    """
    fake_scores, real_scores = scores[is_fake], scores[~is_fake]  # boolean indexing already copies
    fake_scores.sort()
    real_scores.sort()
    return fake_scores, real_scores


def det_counts(scores: np.ndarray, is_fake: np.ndarray) -> DetCounts:
    """Misses and false alarms at every distinct-score threshold (see module docstring)."""
    fake_sorted, real_sorted = sort_by_class(scores, is_fake)
    n_fake, n_real = fake_sorted.size, real_sorted.size
    merged = np.concatenate((fake_sorted, real_sorted))
    # A stable sort of two presorted runs is a linear merge; indices < n_fake mark fakes.
    order = np.argsort(merged, kind="stable")
    sorted_scores = merged[order]
    fakes_before = np.zeros(merged.size + 1, dtype=np.int64)
    np.cumsum(order < n_fake, out=fakes_before[1:])
    is_first_of_value = np.empty(merged.size, dtype=bool)
    is_first_of_value[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=is_first_of_value[1:])
    starts = np.flatnonzero(is_first_of_value)
    positions = np.append(starts, merged.size)  # samples strictly below each threshold
    misses = fakes_before[positions]
    false_alarms = n_real - (positions - misses)
    thresholds = np.append(sorted_scores[starts], np.inf)
    return DetCounts(thresholds, misses, false_alarms, n_fake, n_real)
