"""EER: hand-worked cases, ties, and agreement with an EER read off sklearn's ROC curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve as sklearn_roc_curve

from unmask.eval.metrics import compute_eer


def test_perfect_separation_gives_zero_at_the_lowest_fake_score():
    result = compute_eer([0.1, 0.2, 0.3, 0.7, 0.8], [0, 0, 0, 1, 1])
    assert result.eer == 0.0
    assert result.threshold == 0.7


def test_fully_inverted_scores_give_one():
    result = compute_eer([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1])
    assert result.eer == 1.0
    assert result.threshold == 0.8  # every fake missed, every real flagged


def test_worked_five_score_example():
    # reals 0.2, 0.5, 0.7; fakes 0.6, 0.9. "fake when score >= t":
    #   t     FNR   FPR   FNR-FPR
    #   0.2   0     3/3   -1
    #   0.5   0     2/3   -2/3
    #   0.6   0     1/3   -1/3   <- last point below the crossing
    #   0.7   1/2   1/3   +1/6   <- first point at/above it, closer to equality: chosen
    #   0.9   1/2   0     +1/2
    #   inf   1     0     +1
    # EER = (1/2 + 1/3) / 2 = 5/12 at threshold 0.7.
    result = compute_eer([0.2, 0.5, 0.6, 0.7, 0.9], ["real", "real", "fake", "real", "fake"])
    assert result.eer == pytest.approx(5 / 12, abs=1e-15)
    assert result.threshold == 0.7


def test_two_points_equally_far_from_equality_are_averaged():
    # reals 0.1, 0.4, 0.6; fakes 0.3, 0.8.
    #   t=0.4: FNR 1/2, FPR 2/3 (gap -1/6, mean 7/12); t=0.6: FNR 1/2, FPR 1/3 (gap +1/6, mean 5/12).
    # Equal |gap| on both sides: EER = (7/12 + 5/12) / 2 = 1/2, reported at the lower threshold 0.4.
    result = compute_eer([0.1, 0.3, 0.4, 0.6, 0.8], [0, 1, 0, 0, 1])
    assert result.eer == pytest.approx(0.5, abs=1e-15)
    assert result.threshold == 0.4


def test_constant_scores_give_one_half():
    assert compute_eer([0.3] * 5, [0, 1, 1, 0, 1]).eer == 0.5


def test_tied_scores_across_classes_are_never_split():
    # Without tie handling, sorting could put the fake at 0.5 above the reals at 0.5 and report a
    # perfect detector. Thresholds only fall between distinct values:
    #   t=0.5: FNR 0, FPR 2/2; t=0.9: FNR 1/2, FPR 0 -> gaps -1 and +1/2: EER = 1/4 at 0.9.
    result = compute_eer([0.5, 0.5, 0.5, 0.9], ["real", "real", "fake", "fake"])
    assert result.eer == pytest.approx(0.25)
    assert result.threshold == 0.9
    # Reordering tied rows must not change anything.
    assert compute_eer([0.5, 0.5, 0.5, 0.9], ["fake", "real", "real", "fake"]) == result


def _sklearn_eer_candidates(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """ASVspoof's rule on sklearn's ROC points: (EER at argmin, mean over all exact-argmin ties)."""
    fpr, tpr, _ = sklearn_roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1.0 - tpr
    distance = np.abs(fnr - fpr)
    means = (fnr + fpr) / 2.0
    tied = distance <= distance.min() + 1e-12
    return float(means[np.argmin(distance)]), float(means[tied].mean())


@pytest.mark.parametrize("seed", range(6))
def test_matches_eer_from_sklearn_roc_curve(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    labels = rng.random(n) < 0.3
    scores = rng.normal(size=n) + 1.2 * labels
    if seed % 2:
        scores = np.round(scores, 1)  # many ties within and across classes
    ours = compute_eer(scores, labels).eer
    at_argmin, tie_mean = _sklearn_eer_candidates(scores, labels.astype(int))
    # Same operating points; we differ from ASVspoof's argmin only when two points are exactly as far
    # from FNR = FPR, where we take the mean of both: bounded by half the spread between them.
    assert ours == pytest.approx(tie_mean, abs=1e-12)
    assert abs(ours - at_argmin) <= abs(tie_mean - at_argmin) + 1e-12


def test_large_input_with_ties_matches_brute_force_sweep():
    rng = np.random.default_rng(7)
    labels = rng.random(50_000) < 0.5
    scores = np.round(rng.normal(size=labels.size) + labels, 2)
    values = np.unique(scores)
    fnr = np.array([np.mean(scores[labels] < t) for t in values])
    fpr = np.array([np.mean(scores[~labels] >= t) for t in values])
    best = np.argmin(np.abs(fnr - fpr))
    result = compute_eer(scores, labels)
    assert result.threshold == values[best]
    assert result.eer == pytest.approx((fnr[best] + fpr[best]) / 2, abs=1e-12)
