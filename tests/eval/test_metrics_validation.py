"""Input checking shared by every metric: clear MetricError messages, accepted label spellings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from unmask.errors import MetricError
from unmask.eval.metrics import (
    act_dcf,
    brier_score,
    cllr,
    compute_eer,
    det_curve,
    min_cllr,
    min_dcf,
    roc_auc,
    threshold_metrics,
)

TWO_CLASS_METRICS = [compute_eer, roc_auc, min_dcf, det_curve, min_cllr, cllr]


@pytest.mark.parametrize("metric", TWO_CLASS_METRICS)
def test_only_real_labels_name_the_missing_class(metric):
    with pytest.raises(MetricError, match=r"no 'fake' samples: all 3 labels are 'real'.*need both"):
        metric([0.1, 0.2, 0.3], ["real", "real", "real"])


@pytest.mark.parametrize("metric", TWO_CLASS_METRICS)
def test_only_fake_labels_name_the_missing_class(metric):
    with pytest.raises(MetricError, match=r"no 'real' samples: all 2 labels are 'fake'"):
        metric([0.1, 0.2], [1, 1])


def test_metric_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        compute_eer([0.1], [1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_rejected_with_their_position(bad):
    with pytest.raises(MetricError, match=r"1 of 4 scores are NaN or infinite \(first at index 2"):
        compute_eer([0.1, 0.9, bad, 0.3], [0, 1, 0, 1])


def test_llr_metrics_accept_infinite_but_not_nan():
    assert cllr([np.inf, -np.inf], ["fake", "real"]) == 0.0
    with pytest.raises(MetricError, match=r"scores are NaN \(first at index 0"):
        cllr([np.nan, 1.0], [1, 0])


def test_length_mismatch_reports_both_lengths():
    with pytest.raises(MetricError, match=r"3 scores, 2 labels"):
        roc_auc([0.1, 0.2, 0.3], [0, 1])


def test_empty_input_is_rejected():
    with pytest.raises(MetricError, match=r"no scores given"):
        compute_eer([], [])


def test_unknown_labels_are_listed():
    expected = r"2 label\(s\) are neither real nor fake \(first at index 1.*'spoof'"
    with pytest.raises(MetricError, match=expected):
        compute_eer([0.1, 0.2, 0.3, 0.4], ["real", "spoof", "fake", "spoof"])
    with pytest.raises(MetricError, match=r"neither real nor fake.*2"):
        compute_eer([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(MetricError, match=r"neither real nor fake"):
        compute_eer([0.1, 0.2, 0.3], ["real", None, "fake"])


def test_non_numeric_scores_and_two_dimensional_input_are_rejected():
    with pytest.raises(MetricError, match=r"scores must be numbers"):
        compute_eer(["high", "low"], [1, 0])
    with pytest.raises(MetricError, match=r"one-dimensional"):
        compute_eer([[0.1, 0.2]], [[1, 0]])


def test_all_label_spellings_give_the_same_result():
    scores = [0.2, 0.5, 0.7, 0.6, 0.9]
    expected = compute_eer(scores, [0, 0, 0, 1, 1])
    spellings = [
        ["real", "real", "real", "fake", "fake"],
        [" Real", "REAL", "real", "Fake ", "fake"],
        [False, False, False, True, True],
        np.array([0.0, 0.0, 0.0, 1.0, 1.0]),
        pd.Series(["real", "real", "real", "fake", "fake"], dtype="category"),
        np.array(["real", 0, False, 1, "fake"], dtype=object),
    ]
    for labels in spellings:
        assert compute_eer(scores, labels) == expected


def test_single_class_is_fine_for_threshold_and_calibration_metrics():
    result = threshold_metrics([0.2, 0.7], ["real", "real"], threshold=0.5)
    assert (result.fp, result.tn, result.fpr) == (1, 1, 0.5)
    assert np.isnan(result.fnr) and np.isnan(result.recall)
    assert brier_score([0.2, 0.7], ["real", "real"]) == pytest.approx((0.04 + 0.49) / 2)


def test_cost_and_threshold_parameters_are_checked():
    with pytest.raises(MetricError, match=r"p_target must lie strictly between 0 and 1"):
        min_dcf([0.1, 0.9], [0, 1], p_target=1.0)
    with pytest.raises(MetricError, match=r"c_fa must be a positive finite number"):
        min_dcf([0.1, 0.9], [0, 1], c_fa=0)
    with pytest.raises(MetricError, match=r"threshold is NaN"):
        act_dcf([0.1, 0.9], [0, 1], threshold=float("nan"))
