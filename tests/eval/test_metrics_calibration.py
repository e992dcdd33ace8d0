"""Reliability diagram, ECE and Brier score by hand."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.errors import MetricError
from unmask.eval.metrics import brier_score, expected_calibration_error, reliability_diagram

PROBS = [0.1, 0.2, 0.9, 0.8, 0.7]
LABELS = [0, 1, 1, 1, 0]


def test_ece_two_bins_by_hand():
    # bin [0, 0.5): 0.1, 0.2 -> mean 0.15, fakes 1/2, gap 0.35; bin [0.5, 1]: mean 0.8, fakes 2/3.
    # ECE = (2 x 0.35 + 3 x 0.1333...) / 5 = (0.7 + 0.4) / 5 = 0.22.
    assert expected_calibration_error(PROBS, LABELS, n_bins=2) == pytest.approx(0.22)


def test_reliability_diagram_points_and_empty_bins():
    diagram = reliability_diagram(PROBS, LABELS, n_bins=4)
    assert np.array_equal(diagram.count, [2, 0, 1, 2])
    assert np.allclose(diagram.bin_lower, [0, 0.25, 0.5, 0.75])
    assert diagram.mean_predicted[0] == pytest.approx(0.15)
    assert diagram.observed_frequency[3] == 1.0
    assert np.isnan(diagram.mean_predicted[1]) and np.isnan(diagram.observed_frequency[1])


def test_bin_edges_lower_inclusive_and_one_in_last_bin():
    diagram = reliability_diagram([0.0, 0.5, 1.0], [0, 1, 1], n_bins=2)
    assert np.array_equal(diagram.count, [1, 2])


def test_perfect_calibration_has_zero_ece():
    # In each bin the predicted probability equals the observed fake frequency.
    probs = [0.25] * 4 + [0.75] * 4
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    assert expected_calibration_error(probs, labels, n_bins=10) == 0.0


def test_brier_by_hand():
    assert brier_score(PROBS, LABELS) == pytest.approx((0.01 + 0.64 + 0.01 + 0.04 + 0.49) / 5)


def test_probability_metrics_reject_logits_and_bad_bins():
    with pytest.raises(MetricError, match=r"outside \[0, 1\].*index 1"):
        brier_score([0.2, 3.0], [0, 1])
    with pytest.raises(MetricError, match=r"n_bins must be a positive integer"):
        expected_calibration_error(PROBS, LABELS, n_bins=0)
