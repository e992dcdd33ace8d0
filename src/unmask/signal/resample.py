"""Polyphase resampling by exact rational ratios."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal

from unmask.signal.core import fit_length


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio ``to_rate / from_rate``.

    ``scipy.signal.resample_poly`` filters with a Kaiser window and keeps the signal in place (no delay).
    """
    if from_rate == to_rate:
        return x
    ratio = Fraction(int(to_rate), int(from_rate))
    y = signal.resample_poly(x, ratio.numerator, ratio.denominator)
    return fit_length(y, int(round(x.shape[0] * to_rate / from_rate)))


def resample_round_trip(x: np.ndarray, sample_rate: int, via_rate: int) -> np.ndarray:
    """Down (or up) to ``via_rate`` and back to ``sample_rate``, same length as ``x``: the band-limit of a
    source recorded or stored at ``via_rate``."""
    return fit_length(resample(resample(x, sample_rate, via_rate), via_rate, sample_rate), x.shape[0])
