"""Length, level and SNR helpers every signal transform uses."""

from __future__ import annotations

import numpy as np

from unmask.errors import UnmaskError


class SignalError(UnmaskError, ValueError):
    """A signal primitive was given an impossible setting (unknown codec, empty band, bad rate...)."""


def fit_length(y: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad the end of ``y`` to ``length`` samples."""
    if y.shape[0] >= length:
        return y[:length]
    return np.concatenate([y, np.zeros(length - y.shape[0], dtype=y.dtype)])


def peak_limit(y: np.ndarray) -> np.ndarray:
    """Scale ``y`` down to a peak of 1 if, and only if, it goes over: the shape and relative level stay."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return y / peak if peak > 1.0 else y


def power(x: np.ndarray) -> float:
    """Mean square of ``x`` (0 for an empty array)."""
    return float(np.mean(np.square(x))) if x.size else 0.0


def add_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``x + g * noise`` with ``g`` chosen so that power(x) / power(g * noise) is ``snr_db`` (whole-clip
    mean powers). A silent ``x`` or silent ``noise`` returns ``x`` unchanged (the SNR is undefined)."""
    signal_power, noise_power = power(x), power(noise)
    if signal_power == 0.0 or noise_power == 0.0:
        return x
    return x + noise * np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
