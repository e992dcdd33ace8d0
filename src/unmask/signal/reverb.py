"""Synthetic room impulse responses (no measured RIRs needed).

The impulse response is a direct-path impulse at sample 0 followed, after a short gap (the first
reflection's delay), by Gaussian noise under an exponential envelope that falls 60 dB in RT60 seconds:
the statistical late-reverberation model (Polack). Its energy relative to the direct path sets the
direct-to-reverberant ratio (DRR). Because the direct path sits at sample 0, convolving does not delay.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

#: ln(10**3): an amplitude envelope exp(-LN_1000 * t / rt60) has fallen 60 dB at t = rt60.
LN_1000 = float(np.log(1000.0))


def synthetic_rir(rt60_s: float, drr_db: float, gap_s: float, sample_rate: int,
                  rng: np.random.Generator) -> np.ndarray:
    """A room impulse response: 1 at sample 0, then a decaying noise tail with DRR ``drr_db``."""
    length = max(2, int(round(rt60_s * sample_rate)))
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-LN_1000 * t / rt60_s)
    tail[: max(1, int(round(gap_s * sample_rate)))] = 0.0
    energy = float(np.sum(tail**2))
    if energy > 0.0:  # zero only when the gap outlasts the whole response
        tail *= np.sqrt(10.0 ** (-drr_db / 10.0) / energy)
    tail[0] = 1.0
    return tail


def convolve_same(x: np.ndarray, impulse_response: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``impulse_response``, cut to the length of ``x`` (the tail past it is dropped)."""
    return signal.fftconvolve(x, impulse_response)[: x.shape[0]]
