"""Equal error rate, computed the ASVspoof way with exact handling of tied scores.

Mapping to ASVspoof: ASVspoof scores are higher-means-bona-fide and its positive ("target") class is
bona fide; ours are higher-means-fake and our positive class is fake. Our miss rate (FNR, a fake called
real) is ASVspoof's false acceptance of a spoof, and our false alarm rate (FPR, a real called fake) is
ASVspoof's false rejection of bona fide. The EER is symmetric in the two error rates, so passing our
scores and labels gives ASVspoof's EER on the negated scores (apart from the tie rules below, which
ASVspoof does not have).

Definition used here. Operating points are "fake when ``score >= t``" for every distinct score ``t`` and
for ``t = +inf`` (see :mod:`._det`). Along them FNR never falls, FPR never rises, and at least one of
them moves at every step, so ``FNR - FPR`` is strictly increasing from -1 to +1 and changes sign once.
The two points around that sign change are the only candidates for ASVspoof's "index minimising
``|FNR - FPR|``": the EER is ``(FNR + FPR) / 2`` at whichever of the two has the smaller ``|FNR - FPR|``.
If both are exactly as far from equality (compared in exact integer arithmetic) the EER is the mean of
their two values and the lower of their thresholds is reported; ASVspoof's ``argmin`` would take the lower
one's value alone, which would make the EER depend on which class is called positive.

Scores equal across classes are never split: a threshold only ever sits between distinct values.
"""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple

import numpy as np

from ._det import sort_by_class
from ._validation import _validate


class EER(NamedTuple):
    """Equal error rate and the threshold that reaches it (flag as fake when ``score >= threshold``)."""

    eer: float
    threshold: float


def compute_eer(scores: Any, labels: Any) -> EER:
    """Equal error rate of ``scores`` (higher = more likely fake) against ``labels`` (fake = 1/"fake").

    Sorts each class once and locates the FNR/FPR crossing by bisection on the sorted arrays, so the cost
    is two half-size sorts. See the module docstring for the exact crossing and tie rules.

    Raises:
        MetricError: empty input, length mismatch, NaN/inf scores, bad labels, or a single class.
    """
    score_array, is_fake = _validate(scores, labels)
    fake_sorted, real_sorted = sort_by_class(score_array, is_fake)
    return eer_from_sorted(fake_sorted, real_sorted)


def eer_from_sorted(fake_sorted: np.ndarray, real_sorted: np.ndarray) -> EER:
    """EER from already sorted, non-empty, finite per-class scores (no validation: internal use)."""
    n_fake, n_real = fake_sorted.size, real_sorted.size

    def misses(threshold: float) -> int:
        return int(np.searchsorted(fake_sorted, threshold, side="left"))

    def false_alarms(threshold: float) -> int:
        return n_real - int(np.searchsorted(real_sorted, threshold, side="left"))

    def gap(threshold: float) -> int:
        """(FNR - FPR) * n_fake * n_real, exact in integers so tie decisions never depend on rounding."""
        return misses(threshold) * n_real - false_alarms(threshold) * n_fake

    def first_crossing(sorted_scores: np.ndarray) -> float:
        index = bisect.bisect_left(sorted_scores, True, key=lambda t: gap(float(t)) >= 0)
        return float(sorted_scores[index]) if index < sorted_scores.size else np.inf

    # The first threshold with FNR >= FPR is a fake or a real score, or +inf when it is neither.
    upper = min(first_crossing(fake_sorted), first_crossing(real_sorted))
    # Its predecessor: the largest distinct score below it (exists: at the smallest score FNR - FPR = -1).
    below_fake, below_real = misses(upper), n_real - false_alarms(upper)
    lower = max(
        float(fake_sorted[below_fake - 1]) if below_fake else -np.inf,
        float(real_sorted[below_real - 1]) if below_real else -np.inf,
    )

    def mean_error(threshold: float) -> float:
        return 0.5 * (misses(threshold) / n_fake + false_alarms(threshold) / n_real)

    lower_distance, upper_distance = -gap(lower), gap(upper)
    if lower_distance < upper_distance:
        return EER(mean_error(lower), lower)
    if upper_distance < lower_distance:
        return EER(mean_error(upper), upper)
    return EER(0.5 * (mean_error(lower) + mean_error(upper)), lower)
