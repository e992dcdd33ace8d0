"""Log-likelihood-ratio cost (Cllr) and its calibration-free minimum.

Conventions: an LLR is the natural-log likelihood ratio ``log p(x | fake) / p(x | real)`` (positive
favours fake). ``Cllr = 0.5 * (mean over fakes of log2(1 + e^-LLR) + mean over reals of log2(1 + e^LLR))``
in bits, classes weighted equally whatever their counts. A system that always says LLR = 0 scores exactly
1 bit; a perfect, well-calibrated one approaches 0; above 1 means worse than saying nothing.

``min_cllr`` replaces the scores by the best monotone LLR mapping (pool-adjacent-violators, i.e. isotonic
regression of the labels on the scores, then the empirical prior log-odds removed): what Cllr would be
after ideal calibration. ``cllr - min_cllr`` is the calibration loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import isotonic_regression

from ._validation import _check_open_unit, _validate, _validate_probabilities


def probability_to_llr(probabilities: Any, prior: float = 0.5) -> np.ndarray:
    """Turn calibrated ``fake_probability`` values into LLRs: ``logit(p) - logit(prior)``.

    ``prior`` is the fake prior the probabilities were calibrated under (0.5 = equal priors, where the
    LLR is just the logit). Probabilities of exactly 0 or 1 give -inf / +inf.
    """
    prior = _check_open_unit("prior", prior)
    p = np.asarray(probabilities, dtype=np.float64)
    _validate_probabilities(p.ravel())
    return logit(p) - logit(prior)


def llr_to_probability(llrs: Any, prior: float = 0.5) -> np.ndarray:
    """Inverse of :func:`probability_to_llr`: the posterior ``fake_probability`` under ``prior``."""
    prior = _check_open_unit("prior", prior)
    return expit(np.asarray(llrs, dtype=np.float64) + logit(prior))


def cllr(llrs: Any, labels: Any) -> float:
    """Cllr in bits of ``llrs`` (natural-log LLRs, fake vs real; ``±inf`` allowed) against ``labels``."""
    llr_array, is_fake = _validate(llrs, labels, allow_infinite=True)
    return _cllr(llr_array, is_fake)


def min_cllr(scores: Any, labels: Any) -> float:
    """Cllr after the optimal monotone calibration of ``scores`` (any scale, higher = more fake)."""
    score_array, is_fake = _validate(scores, labels)
    posterior = _pav_posterior(score_array, is_fake)
    n_fake = int(np.count_nonzero(is_fake))
    prior_log_odds = np.log(n_fake) - np.log(is_fake.size - n_fake)
    # Posteriors of 0 or 1 only occur in blocks of a single class and give the harmless -inf/+inf there.
    return _cllr(logit(posterior) - prior_log_odds, is_fake)


def _pav_posterior(scores: np.ndarray, is_fake: np.ndarray) -> np.ndarray:
    """Fake posterior of each sample from PAV over the distinct scores (tied scores share one value).

    Plain PAV on the ordered fake fractions, weighted by counts: unlike ``IsotonicRegression``, which
    interpolates between x values and returns NaN when two distinct scores are extremely close.
    """
    distinct, position, count = np.unique(scores, return_inverse=True, return_counts=True)
    fake_fraction = np.bincount(position, weights=is_fake, minlength=distinct.size) / count
    fitted = isotonic_regression(fake_fraction, sample_weight=count, y_min=0.0, y_max=1.0, increasing=True)
    return fitted[position]


def _cllr(llrs: np.ndarray, is_fake: np.ndarray) -> float:
    fake_cost = np.logaddexp(0.0, -llrs[is_fake]).mean()
    real_cost = np.logaddexp(0.0, llrs[~is_fake]).mean()
    return float(0.5 * (fake_cost + real_cost) / np.log(2.0))
