"""The contract every augmentation follows, and the small helpers they share.

An augmentation is an object built once from its settings (ranges to sample from) and then called as
``aug(wave, rng)`` with a 1-D float waveform and an explicit :class:`numpy.random.Generator`. The call

* never changes the input array;
* returns float32 of the same length, finite;
* (every transform except :class:`~unmask.train.augment.channel.Gain`) keeps the peak inside [-1, 1] by
  scaling the whole output down only when it goes over, so the level changes no more than needed;
* is deterministic: the same wave and a generator seeded the same way give the same output.

Processing happens in float64 (filters and FFTs stay accurate); the float32 cast is the last step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from unmask.errors import UnmaskError
from unmask.signal.core import fit_length, peak_limit, power, validated_wave

__all__ = [
    "Augmentation", "AugmentationConfigError", "Range", "as_choices", "as_range", "check_sample_rate",
    "fit_length", "peak_limit", "power", "uniform",
]


class AugmentationConfigError(UnmaskError, ValueError):
    """An augmentation setting or config entry is invalid (unknown name, bad range, unavailable codec...)."""


Range = tuple[float, float]


def as_range(value: float | Sequence[float], name: str, *, low: float | None = None,
             high: float | None = None) -> Range:
    """Read a setting given as one number (fixed) or ``[min, max]`` (sampled uniformly) into a tuple.

    ``low``/``high`` bound what is allowed; YAML lists and tuples are both accepted.
    """
    if isinstance(value, (int, float, np.integer, np.floating)):
        lo = hi = float(value)
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise AugmentationConfigError(
                f"{name} must be a number or a [min, max] pair, got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise AugmentationConfigError(f"{name} must be finite with min <= max, got {value!r}")
    if (low is not None and lo < low) or (high is not None and hi > high):
        raise AugmentationConfigError(f"{name} must lie within [{low}, {high}], got {value!r}")
    return lo, hi


def as_choices(values: Sequence, name: str) -> tuple:
    """A non-empty tuple of options to draw from (a single string counts as one option)."""
    if isinstance(values, (str, int, float)):
        values = (values,)
    values = tuple(values)
    if not values:
        raise AugmentationConfigError(f"{name} must list at least one option")
    return values


def check_sample_rate(sample_rate: int) -> int:
    if int(sample_rate) != sample_rate or sample_rate < 1000:
        raise AugmentationConfigError(f"sample_rate must be an integer >= 1000 Hz, got {sample_rate!r}")
    return int(sample_rate)


def uniform(rng: np.random.Generator, bounds: Range) -> float:
    """One draw from ``[min, max]`` (the fixed value when min == max; a draw is still consumed)."""
    return float(rng.uniform(bounds[0], bounds[1]))


def _validated(wave: np.ndarray, rng: np.random.Generator, who: str) -> np.ndarray:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return validated_wave(wave, who, AugmentationConfigError)


class Augmentation(ABC):
    """Base class: validates the input, calls :meth:`apply`, then fixes length, peak and dtype."""

    #: Whether the output is scaled down when its peak exceeds 1 (only Gain may opt out).
    limits_peak: bool = True

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Augment ``wave`` (1-D float, not modified) with randomness drawn from ``rng`` only."""
        x = _validated(wave, rng, type(self).__name__)
        if x.size == 0:
            return x.astype(np.float32)
        y = fit_length(np.asarray(self.apply(x, rng), dtype=np.float64), x.shape[0])
        if not np.all(np.isfinite(y)):  # a bug in a transform, never something to hide
            raise RuntimeError(f"{type(self).__name__} produced non-finite samples")
        if self.limits_peak:
            y = peak_limit(y)
        return y.astype(np.float32)

    @abstractmethod
    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform a validated, non-empty float64 copy ``x``; may return any length (fixed afterwards)."""
