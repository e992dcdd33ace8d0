"""Time-stretch and pitch-shift through FFmpeg's ``atempo`` filter (WSOLA), run in-process by PyAV.

* :func:`time_stretch` changes the duration by ``1 / factor`` and keeps the pitch.
* :func:`pitch_shift` keeps the duration: the samples are reinterpreted at ``rate * r`` (``asetrate``,
  which moves pitch and tempo by ``r = 2 ** (semitones / 12)``), resampled back to ``rate``, and the
  tempo restored with ``atempo = 1 / r``: the standard FFmpeg recipe.
"""

from __future__ import annotations

import numpy as np

from unmask.signal.core import SignalError, fit_length
from unmask.signal.ffmpeg_filters import run_filters


def _atempo_chain(factor: float) -> list[tuple[str, str]]:
    # One atempo instance accepts 0.5..100; a factor below 0.5 is split into steps.
    steps = []
    while factor < 0.5:
        steps.append(("atempo", "0.5"))
        factor /= 0.5
    steps.append(("atempo", f"{factor:.6f}"))
    return steps


def time_stretch(x: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times as fast without changing its pitch: about ``len(x) / factor`` samples."""
    if not 0.1 <= factor <= 10.0:
        raise SignalError(f"time-stretch factor must lie within [0.1, 10], got {factor}")
    if factor == 1.0:
        return x.copy()
    return run_filters(x, rate, _atempo_chain(factor))


def pitch_shift(x: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """Move the pitch of ``x`` by ``semitones`` (negative: down), keeping its duration (same length)."""
    if not -24.0 <= semitones <= 24.0:
        raise SignalError(f"pitch shift must lie within +/- 24 semitones, got {semitones}")
    if semitones == 0.0:
        return x.copy()
    ratio = 2.0 ** (semitones / 12.0)
    chain = [("asetrate", str(int(round(rate * ratio)))), ("aresample", str(rate)),
             *_atempo_chain(1.0 / ratio)]
    return fit_length(run_filters(x, rate, chain), x.shape[0])
