"""Property tests (hypothesis): invariances and agreement with sklearn on random, tie-heavy inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import roc_curve as sklearn_roc_curve

from unmask.eval.metrics import (
    act_dcf,
    average_precision,
    cllr,
    compute_eer,
    det_curve,
    min_cllr,
    min_dcf,
    roc_auc,
    roc_curve,
)

FEW = settings(max_examples=60, deadline=None)

# Small integer scores make ties within and across classes common; both classes are always present.
_integer_scores = st.lists(st.integers(-20, 20), min_size=1, max_size=25)
_float_scores = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=25)


@st.composite
def scored_labels(draw, scores=_integer_scores) -> tuple[np.ndarray, np.ndarray]:
    fakes, reals = draw(scores), draw(scores)
    values = np.array(fakes + reals, dtype=np.float64)
    labels = np.array([1] * len(fakes) + [0] * len(reals))
    order = draw(st.permutations(range(values.size)))
    return values[order], labels[order]


MONOTONE = [
    lambda x: np.exp(x / 4.0),
    lambda x: x**3 + x,
    lambda x: 1.0 / (1.0 + np.exp(-x / 5.0)),
    lambda x: 7.0 - 2.0 * -x,
]


@FEW
@given(scored_labels(), st.sampled_from(MONOTONE))
def test_eer_and_auc_are_invariant_under_strictly_monotone_maps(data, transform):
    scores, labels = data
    assert compute_eer(transform(scores), labels).eer == compute_eer(scores, labels).eer
    assert roc_auc(transform(scores), labels) == pytest.approx(roc_auc(scores, labels), abs=1e-12)


@FEW
@given(st.one_of(scored_labels(), scored_labels(_float_scores)))
def test_eer_is_symmetric_under_flipped_labels_and_negated_scores(data):
    scores, labels = data
    assert compute_eer(-scores, 1 - labels).eer == compute_eer(scores, labels).eer


@FEW
@given(st.one_of(scored_labels(), scored_labels(_float_scores)))
def test_eer_lies_in_unit_interval_at_the_point_nearest_equal_error(data):
    scores, labels = data
    result = compute_eer(scores, labels)
    assert 0.0 <= result.eer <= 1.0
    curve = det_curve(scores, labels)
    (at,) = np.flatnonzero(curve.thresholds == result.threshold)
    distance = np.abs(curve.fnr - curve.fpr)
    assert at < curve.thresholds.size - 1  # a finite threshold, never the "flag nothing" point
    assert distance[at] == pytest.approx(distance.min(), abs=1e-12)
    nearest = distance <= distance.min() + 1e-12
    errors = np.concatenate((curve.fnr[nearest], curve.fpr[nearest]))
    assert errors.min() - 1e-12 <= result.eer <= errors.max() + 1e-12


@FEW
@given(st.one_of(scored_labels(), scored_labels(_float_scores)))
def test_auc_plus_auc_of_negated_scores_is_one(data):
    scores, labels = data
    assert roc_auc(scores, labels) + roc_auc(-scores, labels) == pytest.approx(1.0, abs=1e-12)


@FEW
@given(st.one_of(scored_labels(), scored_labels(_float_scores)))
def test_curves_auc_and_ap_agree_with_sklearn(data):
    scores, labels = data
    fpr, tpr, thresholds = sklearn_roc_curve(labels, scores, drop_intermediate=False)
    ours = roc_curve(scores, labels)
    assert np.array_equal(ours.thresholds, thresholds)
    assert np.allclose(ours.fpr, fpr, rtol=0, atol=1e-12)
    assert np.allclose(ours.tpr, tpr, rtol=0, atol=1e-12)
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    expected_ap = average_precision_score(labels, scores)
    assert average_precision(scores, labels) == pytest.approx(expected_ap, abs=1e-12)


@FEW
@given(scored_labels())
def test_eer_matches_the_rule_applied_to_sklearn_roc_points(data):
    scores, labels = data
    fpr, tpr, _ = sklearn_roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1.0 - tpr
    gap = fnr - fpr
    distance = np.abs(gap)
    nearest = distance <= distance.min() + 1e-12  # one point, or two exactly as far either side
    expected = float(np.mean((fnr[nearest] + fpr[nearest]) / 2.0))
    assert compute_eer(scores, labels).eer == pytest.approx(expected, abs=1e-12)


@FEW
@given(scored_labels(), st.floats(0.01, 0.99), st.floats(0.1, 10), st.floats(0.1, 10), st.floats(-20, 20))
def test_min_dcf_bounds(data, p_target, c_miss, c_fa, threshold):
    scores, labels = data
    costs = {"p_target": p_target, "c_miss": c_miss, "c_fa": c_fa}
    best = min_dcf(scores, labels, **costs)
    assert 0.0 <= best.dcf <= 1.0 + 1e-12  # normalised: never worse than a trivial system
    assert act_dcf(scores, labels, threshold=threshold, **costs).dcf >= best.dcf - 1e-12
    assert act_dcf(scores, labels, **costs).dcf >= best.dcf - 1e-12


@FEW
@given(scored_labels(st.lists(st.floats(-8, 8, allow_nan=False), min_size=1, max_size=25)))
def test_min_cllr_never_exceeds_cllr_or_one_bit(data):
    llrs, labels = data
    best = min_cllr(llrs, labels)
    assert -1e-12 <= best <= 1.0 + 1e-9
    assert best <= cllr(llrs, labels) + 1e-9
