"""Evaluation metrics for fake-vs-real detection scores.

Convention for every function: ``scores`` are higher-means-more-likely-fake (``fake_probability``, a
logit or an LLR) and ``labels`` are ``"fake"``/``"real"``, booleans, or 1 (fake) / 0 (real). Fake is the
positive class; a hard decision is "fake when ``score >= threshold``". Bad input (length mismatch, empty,
NaN scores, unknown labels, a single class where two are needed) raises :class:`unmask.errors.MetricError`.
"""

from .calibration import (
    DEFAULT_N_BINS,
    ReliabilityDiagram,
    brier_score,
    expected_calibration_error,
    reliability_diagram,
)
from .cllr import cllr, llr_to_probability, min_cllr, probability_to_llr
from .curves import DETCurve, ROCCurve, average_precision, det_curve, probit, roc_auc, roc_curve
from .dcf import (
    ASVSPOOF5_C_FA,
    ASVSPOOF5_C_MISS,
    ASVSPOOF5_P_TARGET,
    DCF,
    act_dcf,
    bayes_threshold,
    min_dcf,
)
from .eer import EER, compute_eer
from .summary import POOLED, SUMMARY_KEYS, summarize, summarize_by
from .threshold import ThresholdMetrics, fnr_at_fpr, fpr_at_tpr, threshold_metrics

__all__ = [
    "ASVSPOOF5_C_FA",
    "ASVSPOOF5_C_MISS",
    "ASVSPOOF5_P_TARGET",
    "DCF",
    "DEFAULT_N_BINS",
    "DETCurve",
    "EER",
    "POOLED",
    "ROCCurve",
    "ReliabilityDiagram",
    "SUMMARY_KEYS",
    "ThresholdMetrics",
    "act_dcf",
    "average_precision",
    "bayes_threshold",
    "brier_score",
    "cllr",
    "compute_eer",
    "det_curve",
    "expected_calibration_error",
    "fnr_at_fpr",
    "fpr_at_tpr",
    "llr_to_probability",
    "min_cllr",
    "min_dcf",
    "probability_to_llr",
    "probit",
    "reliability_diagram",
    "roc_auc",
    "roc_curve",
    "summarize",
    "summarize_by",
    "threshold_metrics",
]
