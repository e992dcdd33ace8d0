"""Length, level and SNR helpers every signal transform uses."""

from __future__ import annotations

import numpy as np

from unmask.errors import UnmaskError


class SignalError(UnmaskError, ValueError):
    """A signal primitive was given an impossible setting (unknown codec, empty band, bad rate...)."""


def validated_wave(wave: np.ndarray, who: str, error: type[UnmaskError] = SignalError) -> np.ndarray:
    """``wave`` as float64 after checking it is a finite, 1-D float waveform; else ``error`` says why.

    Augmentations and corruptions share this check and raise their own error classes.
    """
    x = np.asarray(wave)
    if x.ndim != 1:
        raise error(f"{who}: expected a 1-D mono waveform, got shape {x.shape}",
                    hint="mix down to mono first")
    if not np.issubdtype(x.dtype, np.floating):
        raise error(f"{who}: expected a float waveform in [-1, 1], got dtype {x.dtype}",
                    hint="convert integer PCM with x / 32768.0 or load via unmask.io")
    if not np.all(np.isfinite(x)):
        raise error(f"{who}: the input waveform contains NaN or infinite samples")
    return x.astype(np.float64)


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
