"""Loudness normalisation as streaming and broadcast apply it: EBU R128 through FFmpeg's ``loudnorm``.

One pass of ``loudnorm`` is *dynamic*: it steers the gain towards an integrated loudness target
(``target_lufs``), holds the short-term loudness within a loudness range (``range_lu``) and limits the
true peak. On a long, dynamic song that is gain riding plus compression, not a plain level change; on
a clip shorter than its 3-s loudness window it falls back to one gain and the peak limiter.
"""

from __future__ import annotations

import numpy as np

from unmask.signal.core import SignalError, fit_length
from unmask.signal.ffmpeg_filters import run_filters

#: loudnorm's accepted settings (FFmpeg's documentation).
TARGET_LUFS_RANGE = (-70.0, -5.0)
LOUDNESS_RANGE_LU = (1.0, 50.0)
TRUE_PEAK_DB_RANGE = (-9.0, 0.0)


def loudness_normalise(x: np.ndarray, rate: int, target_lufs: float, range_lu: float,
                       true_peak_db: float = -1.0) -> np.ndarray:
    """``x`` normalised to ``target_lufs`` with loudness range ``range_lu``; same rate and length."""
    for value, (low, high), what in ((target_lufs, TARGET_LUFS_RANGE, "target loudness (LUFS)"),
                                     (range_lu, LOUDNESS_RANGE_LU, "loudness range (LU)"),
                                     (true_peak_db, TRUE_PEAK_DB_RANGE, "true peak (dBTP)")):
        if not low <= value <= high:
            raise SignalError(f"loudness normalisation: {what} must lie within [{low:g}, {high:g}], "
                              f"got {value:g}")
    if not np.any(x):
        return x.astype(np.float64, copy=True)  # silence has no loudness to steer
    # loudnorm works at 192 kHz internally and leaves that rate: resample back to the input's
    chain = [("loudnorm", f"I={target_lufs:g}:LRA={range_lu:g}:TP={true_peak_db:g}"),
             ("aresample", str(rate))]
    return fit_length(run_filters(x, rate, chain), x.shape[0])
