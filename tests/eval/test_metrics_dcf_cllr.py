"""DCF and Cllr: hand-worked cases and the conventions behind them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unmask.eval.metrics import (
    act_dcf,
    bayes_threshold,
    cllr,
    llr_to_probability,
    min_cllr,
    min_dcf,
    probability_to_llr,
)

# reals 0.1, 0.4, 0.6; fakes 0.3, 0.8. Operating points (t: FNR, FPR):
#   0.1: 0, 1 | 0.3: 0, 2/3 | 0.4: 1/2, 2/3 | 0.6: 1/2, 1/3 | 0.8: 1/2, 0 | inf: 1, 0
SCORES = [0.1, 0.3, 0.4, 0.6, 0.8]
LABELS = ["real", "fake", "real", "real", "fake"]


def test_min_dcf_with_equal_costs_and_priors():
    # Normalised DCF = (0.5 FNR + 0.5 FPR) / 0.5 = FNR + FPR: 1, 2/3, 7/6, 5/6, 1/2, 1 -> 1/2 at 0.8.
    result = min_dcf(SCORES, LABELS, p_target=0.5, c_miss=1, c_fa=1)
    assert result.dcf == pytest.approx(0.5)
    assert (result.threshold, result.fnr, result.fpr) == (0.8, 0.5, 0.0)
    unnormalised = min_dcf(SCORES, LABELS, p_target=0.5, c_miss=1, c_fa=1, normalize=False)
    assert unnormalised.dcf == pytest.approx(0.25)


def test_expensive_misses_move_the_minimum_to_a_lower_threshold():
    # Normalised DCF = (5 FNR + 0.5 FPR) / 0.5 = 10 FNR + FPR: 1, 2/3, >5, >5, 5, 10 -> 2/3 at 0.3.
    result = min_dcf(SCORES, LABELS, p_target=0.5, c_miss=10, c_fa=1)
    assert result.dcf == pytest.approx(2 / 3)
    assert result.threshold == 0.3


def test_default_costs_are_asvspoof5():
    # pi_spoof = 0.05, C_miss(bona fide) = 1, C_fa(spoof) = 10  ->  DCF_norm = FNR + 1.9 FPR.
    # Points: 1.9, 1.267, 1.767, 1.133, 0.5, 1.0 -> 0.5 at 0.8.
    result = min_dcf(SCORES, LABELS)
    assert result.dcf == pytest.approx(0.5)
    explicit = min_dcf(SCORES, LABELS, p_target=0.05, c_miss=10, c_fa=1)
    assert result == explicit
    assert bayes_threshold() == pytest.approx(math.log(0.95 / 0.5))


def test_min_dcf_can_choose_to_flag_nothing():
    # Fakes score lowest; DCF_norm = FNR + 2 FPR: flag all 2, t = 0.9 gives 3, flag nothing (+inf) 1.
    result = min_dcf([0.9, 0.1], ["real", "fake"], p_target=0.5, c_miss=1, c_fa=2)
    assert result.dcf == 1.0
    assert result.threshold == np.inf


def test_act_dcf_on_llrs_uses_the_bayes_threshold():
    llrs = [-2.0, 0.5, -1.0, 1.0, -0.5]
    labels = [0, 0, 0, 1, 1]
    # Equal priors and costs: threshold 0 -> flagged 0.5 (real) and 1.0 (fake): FPR 1/3, FNR 1/2.
    equal = act_dcf(llrs, labels, p_target=0.5, c_miss=1, c_fa=1)
    assert equal.threshold == 0.0
    assert equal.dcf == pytest.approx(1 / 3 + 1 / 2)
    # ASVspoof 5 costs: threshold log(1.9) = 0.64 -> only 1.0 flagged: FNR 1/2, FPR 0 -> 0.5.
    default = act_dcf(llrs, labels)
    assert default.threshold == pytest.approx(math.log(1.9))
    assert (default.fnr, default.fpr, default.dcf) == (0.5, 0.0, pytest.approx(0.5))


def test_act_dcf_at_a_given_probability_threshold():
    result = act_dcf(SCORES, LABELS, threshold=0.5, p_target=0.5, c_miss=1, c_fa=1)
    # flagged 0.6 (real), 0.8 (fake): FNR 1/2, FPR 1/3.
    assert (result.fnr, result.fpr) == (0.5, pytest.approx(1 / 3))
    assert result.dcf == pytest.approx(5 / 6)


def test_uninformative_llrs_cost_exactly_one_bit():
    assert cllr([0.0] * 6, [0, 1, 1, 0, 1, 1]) == pytest.approx(1.0, abs=1e-15)
    assert min_cllr([0.3] * 6, [0, 1, 1, 0, 1, 1]) == pytest.approx(1.0, abs=1e-12)


def test_perfectly_calibrated_llrs():
    # Two score values, 4 fakes and 4 reals: A holds 3 fakes + 1 real, B holds 1 fake + 3 reals, so the
    # true LLRs are log((3/4)/(1/4)) = log 3 for A and -log 3 for B. Fakes: 3 x log2(1 + 1/3) and
    # 1 x log2(1 + 3) -> mean (3 log2(4/3) + 2) / 4; reals the same by symmetry.
    llrs = np.array([1, 1, 1, -1, 1, -1, -1, -1]) * math.log(3)
    labels = [1, 1, 1, 1, 0, 0, 0, 0]
    expected = (3 * math.log2(4 / 3) + 2) / 4
    assert cllr(llrs, labels) == pytest.approx(expected, abs=1e-12)
    # Already calibrated: ideal recalibration (PAV) changes nothing.
    assert min_cllr(llrs, labels) == pytest.approx(expected, abs=1e-12)
    # Overconfident by a factor of 3: same ranking, same min_cllr, worse cllr.
    assert min_cllr(3 * llrs, labels) == pytest.approx(expected, abs=1e-12)
    assert cllr(3 * llrs, labels) > expected + 0.1


def test_separated_scores_have_zero_min_cllr_and_confident_errors_infinite_cllr():
    assert min_cllr([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 0.0
    assert cllr([np.inf, 1.0], ["real", "fake"]) == np.inf


def test_min_cllr_with_nearly_equal_scores():
    # sklearn's IsotonicRegression returns NaN here (it interpolates between x = 0 and x = 7e-226).
    # PAV over sorted scores: real -1 | fake 0 | real 7e-226 -> posteriors 0, 1/2, 1/2; prior log-odds
    # log(1/2) -> LLRs -inf, log 2, log 2. Fake: log2(1 + 1/2); reals: (0 + log2(1 + 2)) / 2.
    expected = 0.5 * (math.log2(1.5) + math.log2(3) / 2)
    assert min_cllr([0.0, 6.7551375e-226, -1.0], [1, 0, 0]) == pytest.approx(expected, abs=1e-12)


def test_probability_llr_conversion():
    assert probability_to_llr(0.75) == pytest.approx(math.log(3))
    assert probability_to_llr(0.75, prior=0.25) == pytest.approx(2 * math.log(3))
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    assert np.allclose(llr_to_probability(probability_to_llr(p, prior=0.2), prior=0.2), p)
    assert probability_to_llr(1.0) == np.inf
