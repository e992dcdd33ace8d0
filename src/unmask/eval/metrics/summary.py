"""One call for the usual table of metrics, pooled and per group (system, corpus, codec...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from unmask.errors import MetricError

from ._det import sort_by_class
from ._validation import _check_open_unit, _check_threshold, _validate
from .calibration import DEFAULT_N_BINS, brier_score, expected_calibration_error
from .cllr import cllr, min_cllr, probability_to_llr
from .curves import average_precision, roc_auc
from .dcf import act_dcf, bayes_threshold, min_dcf
from .eer import eer_from_sorted
from .threshold import threshold_metrics

POOLED = "(all)"
SUMMARY_KEYS: tuple[str, ...] = (
    "n",
    "n_real",
    "n_fake",
    "eer",
    "eer_threshold",
    "min_dcf",
    "act_dcf",
    "auc",
    "ap",
    "threshold",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "fpr",
    "fnr",
    "scores_are_probabilities",
    "ece",
    "brier",
    "cllr",
    "min_cllr",
    "note",
)
_TWO_CLASS_KEYS = ("eer", "eer_threshold", "min_dcf", "act_dcf", "auc", "ap", "cllr", "min_cllr")


def summarize(
    scores: Any,
    labels: Any,
    threshold: float = 0.5,
    *,
    prior: float = 0.5,
    n_bins: int = DEFAULT_N_BINS,
) -> dict[str, Any]:
    """All headline metrics of ``scores`` (higher = more fake) against ``labels``, as a flat dict.

    Keys are :data:`SUMMARY_KEYS`. ``min_dcf`` uses the ASVspoof 5 costs (see :mod:`.dcf`). When every
    score lies in [0, 1] the scores are taken as calibrated ``fake_probability`` under the fake prior
    ``prior``: then ``ece``/``brier`` are computed, ``cllr`` on ``probability_to_llr(scores, prior)``, and
    ``act_dcf`` at the Bayes threshold for those LLRs; otherwise those four are NaN. ``min_cllr`` is
    calibration-free and always computed. Input with one class only gets NaN for the two-class metrics
    and an explanatory ``note`` instead of an error; other bad input raises :class:`MetricError`.
    """
    threshold = _check_threshold(threshold)
    prior = _check_open_unit("prior", prior)
    score_array, is_fake = _validate(scores, labels, need_both_classes=False)
    n_fake = int(np.count_nonzero(is_fake))
    n_real = is_fake.size - n_fake
    are_probabilities = bool(np.all((score_array >= 0.0) & (score_array <= 1.0)))

    at_threshold = threshold_metrics(score_array, is_fake, threshold)
    result: dict[str, Any] = dict.fromkeys(SUMMARY_KEYS, float("nan"))
    result.update(
        n=int(is_fake.size),
        n_real=n_real,
        n_fake=n_fake,
        threshold=threshold,
        accuracy=at_threshold.accuracy,
        precision=at_threshold.precision,
        recall=at_threshold.recall,
        f1=at_threshold.f1,
        fpr=at_threshold.fpr,
        fnr=at_threshold.fnr,
        scores_are_probabilities=are_probabilities,
        note="",
    )
    if are_probabilities:
        result.update(
            ece=expected_calibration_error(score_array, is_fake, n_bins),
            brier=brier_score(score_array, is_fake),
        )
    if n_fake and n_real:
        result.update(_two_class_metrics(score_array, is_fake, are_probabilities, prior))
    else:
        present = "real" if n_real else "fake"
        result["note"] = f"only {present} samples: {', '.join(_TWO_CLASS_KEYS)} need both classes"
    return result


def summarize_by(
    df: pd.DataFrame,
    by: str | Sequence[str],
    score_col: str = "fake_probability",
    label_col: str = "label",
    *,
    threshold: float = 0.5,
    prior: float = 0.5,
    n_bins: int = DEFAULT_N_BINS,
) -> pd.DataFrame:
    """One pooled row (group columns set to ``"(all)"``) then one :func:`summarize` row per group.

    Groups are sorted; a missing group value is kept as its own group (never dropped). A group with a
    single class gets NaN two-class metrics and a ``note``; NaN scores or bad labels anywhere raise
    :class:`MetricError` (the pooled row is computed first).
    """
    by_columns = [by] if isinstance(by, str) else list(by)
    missing = [c for c in (*by_columns, score_col, label_col) if c not in df.columns]
    if missing:
        raise MetricError(
            f"column(s) {', '.join(map(repr, missing))} not in the table",
            hint=f"available columns: {', '.join(map(str, df.columns))}",
        )
    options = {"threshold": threshold, "prior": prior, "n_bins": n_bins}
    rows = [{**dict.fromkeys(by_columns, POOLED), **summarize(df[score_col], df[label_col], **options)}]
    for key, group in df.groupby(by_columns, dropna=False, sort=True):
        key_values = key if isinstance(key, tuple) else (key,)
        group_summary = summarize(group[score_col], group[label_col], **options)
        rows.append({**dict(zip(by_columns, key_values, strict=True)), **group_summary})
    return pd.DataFrame(rows, columns=[*by_columns, *SUMMARY_KEYS])


def _two_class_metrics(
    scores: np.ndarray, is_fake: np.ndarray, are_probabilities: bool, prior: float
) -> dict[str, float]:
    eer = eer_from_sorted(*sort_by_class(scores, is_fake))
    metrics = {
        "eer": eer.eer,
        "eer_threshold": eer.threshold,
        "min_dcf": min_dcf(scores, is_fake).dcf,
        "auc": roc_auc(scores, is_fake),
        "ap": average_precision(scores, is_fake),
        "min_cllr": min_cllr(scores, is_fake),
    }
    if are_probabilities:
        # fake when LLR >= Bayes threshold  <=>  p >= expit(Bayes threshold + prior log-odds)
        probability_threshold = float(expit(bayes_threshold() + logit(prior)))
        metrics["act_dcf"] = act_dcf(scores, is_fake, threshold=probability_threshold).dcf
        metrics["cllr"] = cllr(probability_to_llr(scores, prior), is_fake)
    return metrics
