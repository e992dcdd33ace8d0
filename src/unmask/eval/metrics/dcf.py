"""Detection cost function (DCF): minimum over thresholds and actual at one threshold.

Roles. The *target* class is **fake** (the class a deepfake detector is asked to find):

* ``p_target`` - prior probability of a fake;
* ``c_miss``   - cost of a miss: a fake accepted as real;
* ``c_fa``     - cost of a false alarm: a real sample flagged as fake.

``DCF(t) = c_miss * p_target * FNR(t) + c_fa * (1 - p_target) * FPR(t)``, and the normalised DCF divides
by ``min(c_miss * p_target, c_fa * (1 - p_target))``, the cost of the better of the two trivial systems
(always "real", always "fake"), so a useless system scores 1 and a perfect one 0.

Defaults reproduce ASVspoof 5's spoof-detection DCF. ASVspoof 5 calls bona fide the target, with
``C_miss = 1`` (bona fide rejected), ``C_fa = 10`` (spoof accepted) and ``pi_spoof = 0.05``. With fake
as our target the same costs read ``p_target = 0.05``, ``c_miss = 10`` (a fake accepted), ``c_fa = 1``
(a real rejected): ``DCF_norm = FNR + 1.9 FPR``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._det import det_counts
from ._validation import _check_open_unit, _check_positive, _check_threshold, _validate

ASVSPOOF5_P_TARGET = 0.05
ASVSPOOF5_C_MISS = 10.0
ASVSPOOF5_C_FA = 1.0


class DCF(NamedTuple):
    """A detection cost and the operating point that gives it (fake when ``score >= threshold``)."""

    dcf: float
    threshold: float
    fnr: float
    fpr: float


def bayes_threshold(
    p_target: float = ASVSPOOF5_P_TARGET, c_miss: float = ASVSPOOF5_C_MISS, c_fa: float = ASVSPOOF5_C_FA
) -> float:
    """LLR threshold of the Bayes decision: fake when ``LLR >= log(c_fa (1 - p) / (c_miss p))``.

    LLR here is the natural-log likelihood ratio ``log p(x | fake) / p(x | real)``.
    """
    p_target, c_miss, c_fa = _check_costs(p_target, c_miss, c_fa)
    return float(np.log(c_fa * (1.0 - p_target)) - np.log(c_miss * p_target))


def min_dcf(
    scores: Any,
    labels: Any,
    *,
    p_target: float = ASVSPOOF5_P_TARGET,
    c_miss: float = ASVSPOOF5_C_MISS,
    c_fa: float = ASVSPOOF5_C_FA,
    normalize: bool = True,
) -> DCF:
    """Smallest DCF over every distinct-score threshold and +inf (calibration-free).

    The reported threshold is the lowest one reaching the minimum; it is +inf when flagging nothing is
    cheapest. Normalised, the result never exceeds 1.
    """
    p_target, c_miss, c_fa = _check_costs(p_target, c_miss, c_fa)
    counts = det_counts(*_validate(scores, labels))
    fnr = counts.misses / counts.n_fake
    fpr = counts.false_alarms / counts.n_real
    costs = _cost(fnr, fpr, p_target, c_miss, c_fa, normalize)
    best = int(np.argmin(costs))
    return DCF(float(costs[best]), float(counts.thresholds[best]), float(fnr[best]), float(fpr[best]))


def act_dcf(
    scores: Any,
    labels: Any,
    *,
    threshold: float | None = None,
    p_target: float = ASVSPOOF5_P_TARGET,
    c_miss: float = ASVSPOOF5_C_MISS,
    c_fa: float = ASVSPOOF5_C_FA,
    normalize: bool = True,
) -> DCF:
    """DCF of the hard decisions ``score >= threshold`` (fake).

    With ``threshold=None`` the scores are taken to be LLRs (natural log, fake vs real; ``±inf`` allowed)
    and the Bayes threshold :func:`bayes_threshold` is used: this measures calibration as well as
    discrimination. For probabilities, pass the threshold you deploy (e.g. 0.5), or convert calibrated
    probabilities to LLRs with :func:`unmask.eval.metrics.probability_to_llr` and leave it ``None``.
    """
    p_target, c_miss, c_fa = _check_costs(p_target, c_miss, c_fa)
    score_array, is_fake = _validate(scores, labels, allow_infinite=threshold is None)
    threshold = bayes_threshold(p_target, c_miss, c_fa) if threshold is None else _check_threshold(threshold)
    flagged = score_array >= threshold
    fnr = int(np.count_nonzero(is_fake & ~flagged)) / int(np.count_nonzero(is_fake))
    fpr = int(np.count_nonzero(~is_fake & flagged)) / int(np.count_nonzero(~is_fake))
    cost = float(_cost(np.float64(fnr), np.float64(fpr), p_target, c_miss, c_fa, normalize))
    return DCF(cost, float(threshold), fnr, fpr)


def _cost(
    fnr: np.ndarray, fpr: np.ndarray, p_target: float, c_miss: float, c_fa: float, normalize: bool
) -> np.ndarray:
    miss_weight, fa_weight = c_miss * p_target, c_fa * (1.0 - p_target)
    cost = miss_weight * fnr + fa_weight * fpr
    return cost / min(miss_weight, fa_weight) if normalize else cost


def _check_costs(p_target: float, c_miss: float, c_fa: float) -> tuple[float, float, float]:
    return (
        _check_open_unit("p_target", p_target),
        _check_positive("c_miss", c_miss),
        _check_positive("c_fa", c_fa),
    )
