"""Calibration of ``fake_probability``: reliability diagram, expected calibration error, Brier score.

These are *positive-class* (fake) calibration measures: in each bin the mean predicted fake probability
is compared with the observed fraction of fakes. Bins are ``n_bins`` equal-width intervals of [0, 1]:
bin ``i`` holds ``i/n <= p < (i+1)/n``, computed as ``floor(p * n)``, and the last bin also holds 1.0.
``ECE = sum over bins of (count / N) * |mean predicted - observed frequency|``; empty bins contribute 0.
The default of 15 bins follows Guo et al. (2017); ECE depends on the binning, so compare like with like.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from unmask.errors import MetricError

from ._validation import _validate, _validate_probabilities

DEFAULT_N_BINS = 15


class ReliabilityDiagram(NamedTuple):
    """Per-bin points (arrays of length ``n_bins``); empty bins have count 0 and NaN mean/frequency."""

    bin_lower: np.ndarray
    bin_upper: np.ndarray
    mean_predicted: np.ndarray
    observed_frequency: np.ndarray
    count: np.ndarray


def reliability_diagram(probabilities: Any, labels: Any, n_bins: int = DEFAULT_N_BINS) -> ReliabilityDiagram:
    """Mean predicted fake probability, observed fake frequency and count in each equal-width bin."""
    p, is_fake = _validate_probability_input(probabilities, labels)
    n_bins = _check_n_bins(n_bins)
    bins = np.minimum(np.floor(p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    prediction_sum = np.bincount(bins, weights=p, minlength=n_bins)
    fake_sum = np.bincount(bins, weights=is_fake.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = prediction_sum / count
        observed_frequency = fake_sum / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return ReliabilityDiagram(edges[:-1], edges[1:], mean_predicted, observed_frequency, count)


def expected_calibration_error(probabilities: Any, labels: Any, n_bins: int = DEFAULT_N_BINS) -> float:
    """Count-weighted mean gap between predicted and observed fake frequency over the bins (see module)."""
    diagram = reliability_diagram(probabilities, labels, n_bins)
    filled = diagram.count > 0
    gaps = np.abs(diagram.mean_predicted[filled] - diagram.observed_frequency[filled])
    return float(np.sum(diagram.count[filled] * gaps) / np.sum(diagram.count))


def brier_score(probabilities: Any, labels: Any) -> float:
    """Mean squared difference between ``fake_probability`` and the outcome (1 = fake, 0 = real)."""
    p, is_fake = _validate_probability_input(probabilities, labels)
    return float(np.mean((p - is_fake) ** 2))


def _validate_probability_input(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p, is_fake = _validate(probabilities, labels, need_both_classes=False)
    _validate_probabilities(p)
    return p, is_fake


def _check_n_bins(n_bins: int) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise MetricError(f"n_bins must be a positive integer, got {n_bins!r}")
    return int(n_bins)
