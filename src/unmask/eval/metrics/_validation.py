"""Input checks shared by every metric: one place that turns scores and labels into numpy arrays.

Convention: ``scores`` are higher-means-more-likely-fake (a ``fake_probability``, a logit or an LLR);
``labels`` are ``"fake"``/``"real"`` (case-insensitive), booleans, or numbers with 1 = fake and 0 = real.
Fake is the positive class everywhere in :mod:`unmask.eval.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from unmask.errors import MetricError

FAKE = "fake"
REAL = "real"
_LABEL_HINT = "use 'real'/'fake', or 0/1 with 1 = fake"
_MAX_LISTED = 5


def _validate(
    scores: Any,
    labels: Any,
    *,
    need_both_classes: bool = True,
    allow_infinite: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Check ``scores``/``labels`` and return ``(scores as float64, is_fake as bool)``, both 1-D.

    Raises :class:`MetricError` for a length mismatch, empty input, NaN scores, infinite scores (unless
    ``allow_infinite``, which LLR-based metrics need), labels outside the two classes, and (when
    ``need_both_classes``) input holding a single class.
    """
    score_array = _as_score_array(scores)
    is_fake = _as_fake_mask(labels)
    if score_array.shape[0] != is_fake.shape[0]:
        raise MetricError(
            f"scores and labels differ in length: {score_array.shape[0]} scores, {is_fake.shape[0]} labels",
            hint="pass exactly one label per score",
        )
    if score_array.shape[0] == 0:
        raise MetricError("no scores given: metrics need at least one scored sample")
    _check_finite(score_array, allow_infinite=allow_infinite)
    if need_both_classes:
        _check_both_classes(is_fake)
    return score_array, is_fake


def _validate_probabilities(probabilities: np.ndarray) -> None:
    """Raise :class:`MetricError` unless every value lies in [0, 1] (a ``fake_probability``)."""
    outside = (probabilities < 0.0) | (probabilities > 1.0)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise MetricError(
            f"{int(outside.sum())} score(s) lie outside [0, 1] (first at index {first}: "
            f"{probabilities[first]!r}); this metric needs probabilities",
            hint="pass fake_probability values, or calibrate logits first (e.g. a sigmoid)",
        )


def _as_score_array(scores: Any) -> np.ndarray:
    try:
        array = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricError(f"scores must be numbers: {exc}") from exc
    if array.ndim != 1:
        raise MetricError(f"scores must be one-dimensional, got shape {array.shape}")
    return array


def _as_fake_mask(labels: Any) -> np.ndarray:
    array = labels.to_numpy() if isinstance(labels, pd.Series | pd.Index) else np.asarray(labels)
    if array.ndim != 1:
        raise MetricError(f"labels must be one-dimensional, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind in "iuf":
        is_fake = array == 1
        invalid = ~(is_fake | (array == 0))
    else:
        is_fake, invalid = _string_or_mixed_labels(array)
    if invalid.any():
        _raise_invalid_labels(array, invalid)
    return is_fake


def _string_or_mixed_labels(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classify labels of string/object dtype through their distinct values (cheap for big inputs)."""
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    kinds = np.array([_label_kind(value) for value in uniques], dtype=np.int8)  # 1 fake, 0 real, -1 bad
    # code -1 is a missing value (None/NaN): always invalid.
    code_kinds = np.append(kinds, np.int8(-1))[codes]
    return code_kinds == 1, code_kinds == -1


def _label_kind(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip().lower()
        return 1 if text == FAKE else 0 if text == REAL else -1
    if isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating):
        return 1 if value == 1 else 0 if value == 0 else -1
    return -1


def _raise_invalid_labels(array: np.ndarray, invalid: np.ndarray) -> None:
    positions = np.flatnonzero(invalid)
    distinct = list(dict.fromkeys(repr(array[i]) for i in positions[:1000]))
    shown = ", ".join(distinct[:_MAX_LISTED]) + (", ..." if len(distinct) > _MAX_LISTED else "")
    raise MetricError(
        f"{positions.size} label(s) are neither real nor fake "
        f"(first at index {positions[0]}; values: {shown})",
        hint=_LABEL_HINT,
    )


def _check_finite(scores: np.ndarray, *, allow_infinite: bool) -> None:
    bad = np.isnan(scores) if allow_infinite else ~np.isfinite(scores)
    if bad.any():
        positions = np.flatnonzero(bad)
        what = "NaN" if allow_infinite else "NaN or infinite"
        raise MetricError(
            f"{positions.size} of {scores.size} scores are {what} "
            f"(first at index {positions[0]}: {scores[positions[0]]!r})",
            hint="fix or remove those rows before computing metrics; they are never dropped silently",
        )


def _check_both_classes(is_fake: np.ndarray) -> None:
    n_fake = int(np.count_nonzero(is_fake))
    n_real = is_fake.size - n_fake
    if n_fake == 0 or n_real == 0:
        missing, present, count = (FAKE, REAL, n_real) if n_fake == 0 else (REAL, FAKE, n_fake)
        raise MetricError(
            f"no '{missing}' samples: all {count} labels are '{present}'",
            hint="EER, AUC, DCF, Cllr and ROC/DET curves need both real and fake samples",
        )


def _check_open_unit(name: str, value: float) -> float:
    """Return ``value`` as float if it lies strictly between 0 and 1, else raise :class:`MetricError`."""
    value = float(value)
    if not 0.0 < value < 1.0:
        raise MetricError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return value


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0.0):
        raise MetricError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _check_threshold(threshold: float) -> float:
    """Return ``threshold`` as float; NaN would silently flag nothing, so it raises :class:`MetricError`."""
    value = float(threshold)
    if np.isnan(value):
        raise MetricError("threshold is NaN", hint="pass a number; scores >= threshold count as fake")
    return value
