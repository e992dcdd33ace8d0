"""Zero-phase Butterworth filtering (nothing is delayed), incl. the telephone band."""

from __future__ import annotations

import numpy as np
from scipy import signal

from unmask.signal.core import SignalError


def zero_phase_filter(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Apply second-order sections forwards and backwards (doubles the slope, no phase shift).

    ``sosfiltfilt`` pads by reflection; clips shorter than its default pad length get a shorter pad.
    """
    padlen = min(3 * 2 * sos.shape[0], x.shape[0] - 1)
    return signal.sosfiltfilt(sos, x, padlen=max(padlen, 0))


def band_pass(x: np.ndarray, low_hz: float, high_hz: float, order: int, sample_rate: int) -> np.ndarray:
    """Zero-phase Butterworth band-pass ``low_hz``-``high_hz``; ``order`` is the slope of one low- or
    high-pass edge (a band-pass design doubles it, so half of it is passed to the design)."""
    if not 0 < low_hz < high_hz < sample_rate / 2:
        raise SignalError(f"band {low_hz:.0f}-{high_hz:.0f} Hz is empty or above Nyquist at {sample_rate} Hz")
    sos = signal.butter(max(1, order // 2), [low_hz, high_hz], "bandpass", fs=sample_rate, output="sos")
    return zero_phase_filter(x, sos)
