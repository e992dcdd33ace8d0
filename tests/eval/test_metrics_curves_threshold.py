"""Curves, AUC/AP and hard-decision metrics: hand cases and sklearn agreement."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from unmask.eval.metrics import (
    average_precision,
    det_curve,
    fnr_at_fpr,
    fpr_at_tpr,
    probit,
    roc_auc,
    roc_curve,
    threshold_metrics,
)

SCORES = [0.1, 0.3, 0.4, 0.6, 0.8]
LABELS = ["real", "fake", "real", "real", "fake"]


def test_det_curve_points_by_hand():
    curve = det_curve(SCORES, LABELS)
    assert np.array_equal(curve.thresholds, [0.1, 0.3, 0.4, 0.6, 0.8, np.inf])
    assert np.allclose(curve.fnr, [0, 0, 0.5, 0.5, 0.5, 1])
    assert np.allclose(curve.fpr, [1, 2 / 3, 2 / 3, 1 / 3, 0, 0])
    assert np.allclose(curve.fpr_probit[1:4], norm.ppf([2 / 3, 2 / 3, 1 / 3]))
    assert curve.fnr_probit[0] == -np.inf and curve.fnr_probit[-1] == np.inf
    assert probit(0.5) == 0.0


def test_det_curve_merges_tied_scores():
    curve = det_curve([0.5, 0.5, 0.5, 0.2], ["real", "fake", "real", "fake"])
    assert np.array_equal(curve.thresholds, [0.2, 0.5, np.inf])
    assert np.allclose(curve.fnr, [0, 0.5, 1])
    assert np.allclose(curve.fpr, [1, 1, 0])


def test_auc_counts_ties_as_one_half():
    # fake scores 0.5, 0.9 vs real 0.5, 0.1: pairs won 1 + 1 + 1, tied 1 -> (3 + 0.5) / 4.
    assert roc_auc([0.5, 0.9, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)


def test_average_precision_by_hand():
    # Descending: 0.8 fake (P 1, R 1/2), 0.6 real, 0.4 real, 0.3 fake (P 2/4, R 1) -> 1/2 + 1/2 x 1/2.
    assert average_precision(SCORES, LABELS) == pytest.approx(0.75)


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_ap_agree_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(3_000) < 0.4).astype(int)
    scores = np.round(rng.normal(size=labels.size) + labels, 1 + seed % 2)
    fpr, tpr, thresholds = sklearn_roc_curve(labels, scores, drop_intermediate=False)
    ours = roc_curve(scores, labels)
    assert np.array_equal(ours.thresholds, thresholds)
    assert np.allclose(ours.fpr, fpr, rtol=0, atol=1e-12)
    assert np.allclose(ours.tpr, tpr, rtol=0, atol=1e-12)
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )


def test_threshold_metrics_by_hand():
    # threshold 0.5: flagged 0.6 (real) and 0.8 (fake) -> tp 1, fp 1, tn 2, fn 1.
    result = threshold_metrics(SCORES, LABELS)
    assert (result.tp, result.fp, result.tn, result.fn) == (1, 1, 2, 1)
    assert result.accuracy == pytest.approx(3 / 5)
    assert (result.precision, result.recall, result.fnr) == (0.5, 0.5, 0.5)
    assert result.f1 == pytest.approx(0.5)
    assert result.fpr == pytest.approx(1 / 3)


def test_score_equal_to_threshold_counts_as_fake():
    result = threshold_metrics([0.5, 0.2], ["fake", "real"], threshold=0.5)
    assert (result.tp, result.tn) == (1, 1)


def test_nothing_flagged_gives_nan_precision_not_zero():
    result = threshold_metrics([0.1, 0.2], ["fake", "real"], threshold=0.9)
    assert np.isnan(result.precision)
    assert result.recall == 0.0 and result.f1 == 0.0


def test_rates_at_target_operating_points():
    assert fpr_at_tpr(SCORES, LABELS, tpr=1.0) == pytest.approx(2 / 3)  # t = 0.3
    assert fpr_at_tpr(SCORES, LABELS, tpr=0.5) == 0.0  # t = 0.8
    assert fnr_at_fpr(SCORES, LABELS, fpr=0.0) == 0.5  # t = 0.8
    assert fnr_at_fpr(SCORES, LABELS, fpr=0.7) == 0.0  # t = 0.3


def test_target_rate_uses_a_rounding_tolerance():
    # 19 of 20 fakes is TPR 0.95 exactly, although 0.95 * 20 is not 19 in floating point.
    labels = np.array([1] * 20 + [0] * 20)
    scores = np.concatenate([np.arange(20) + 100.0, np.arange(20) + 0.5])
    scores[0] = 5.0  # one fake sits among the reals
    assert fpr_at_tpr(scores, labels, tpr=0.95) == 0.0
