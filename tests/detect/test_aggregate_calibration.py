import numpy as np
import pytest

from unmask.detect.aggregate import aggregate_logits
from unmask.detect.calibration import Calibrator
from unmask.detect.result import ScanResult, Thresholds, WindowScore


def test_softmax_aggregation_sits_between_mean_and_max_and_catches_a_short_fake():
    logits = np.array([-4.0] * 9 + [6.0])  # one spliced fake window among nine real ones
    mean, soft, hard = (aggregate_logits(logits, m) for m in ("mean", "softmax", "max"))
    assert mean < soft < hard
    assert mean == pytest.approx(-3.0)
    # soft max = 6 - log(10) + log(1 + 9 e^-10): the fake window dominates, damped by log(n)
    assert soft == pytest.approx(6.0 - np.log(10) + np.log1p(9 * np.exp(-10.0)))
    assert soft > 0  # the file is still called fake, where the mean would call it real


def test_softmax_of_equal_logits_is_that_logit_and_temperature_interpolates():
    assert aggregate_logits(np.full(5, 1.5)) == pytest.approx(1.5)
    logits = np.array([0.0, 4.0])
    assert aggregate_logits(logits, temperature=100.0) == pytest.approx(2.0, abs=0.05)
    assert aggregate_logits(logits, temperature=0.01) == pytest.approx(4.0, abs=0.01)


@pytest.mark.parametrize("bad", [dict(method="median"), dict(temperature=0.0)])
def test_aggregation_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        aggregate_logits(np.zeros(3), **bad)
    with pytest.raises(ValueError, match="no windows"):
        aggregate_logits(np.zeros(0))


def test_platt_calibration_recovers_a_known_logistic_map_and_round_trips():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 20000)
    true_p = 1 / (1 + np.exp(-(0.5 * logits - 1.0)))
    labels = (rng.random(logits.size) < true_p).astype(int)
    cal = Calibrator("platt").fit(logits, labels)
    assert cal.scale == pytest.approx(0.5, abs=0.05)
    assert cal.bias == pytest.approx(-1.0, abs=0.08)
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_allclose(again(logits[:10]), cal(logits[:10]))


def test_isotonic_calibration_is_monotone_and_bounded():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, 500)
    labels = (logits + rng.normal(0, 1, 500) > 0).astype(int)
    cal = Calibrator("isotonic").fit(logits, labels)
    grid = np.linspace(-10, 10, 200)
    p = cal(grid)
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    with pytest.raises(ValueError, match="both"):
        Calibrator().fit(np.zeros(4), np.ones(4))


def test_thresholds_and_result_serialisation():
    th = Thresholds(0.3, 0.7)
    assert [th.verdict(p) for p in (0.1, 0.3, 0.69, 0.7, 1.0)] == [
        "real",
        "uncertain",
        "uncertain",
        "fake",
        "fake",
    ]
    with pytest.raises(ValueError):
        Thresholds(0.8, 0.2)
    result = ScanResult(
        "a.wav", 0.9, "fake", "m", "1", 4.0, [WindowScore(0, 2, 0.2), WindowScore(2, 4, 0.95)]
    )
    assert result.most_suspicious_window().start_s == 2
    assert ScanResult.from_dict(result.to_dict()) == result
    assert result.to_row()["peak_window_fake_probability"] == 0.95
    with pytest.raises(ValueError):
        ScanResult("a.wav", 1.5, "fake")
