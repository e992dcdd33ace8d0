"""A small log-mel spectrogram of a whole file for the web page, computed in constant memory.

Frames (25 ms FFT, 10 ms hop at 16 kHz) are pooled pairwise (max) whenever more than ``2 * max_frames``
have been collected, so a 4-hour file costs the same memory as a 10-second one and the picture keeps at
most ``2 * max_frames`` columns. Values are dB quantised to 0-255 over an 80 dB range below the loudest
band, base64-encoded row by row (time-major, low frequencies first).
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from unmask.io import MediaLimits, iter_chunks

RATE = 16000
N_FFT = 512
HOP = 160
BANDS = 64
RANGE_DB = 80.0


def _mel_edges(bands: int, rate: int, n_fft: int) -> np.ndarray:
    mel = np.linspace(0, 2595 * np.log10(1 + (rate / 2) / 700), bands + 1)
    hz = 700 * (10 ** (mel / 2595) - 1)
    edges = np.round(hz / (rate / 2) * (n_fft // 2)).astype(int)
    return np.maximum.accumulate(np.maximum(edges, np.arange(bands + 1)))  # every band >= one bin


def spectrogram(path: str | Path, *, limits: MediaLimits | None = None, max_frames: int = 400) -> dict:
    window = np.hanning(N_FFT).astype(np.float32)
    edges = np.minimum(_mel_edges(BANDS, RATE, N_FFT), N_FFT // 2 + 1)
    columns: list[np.ndarray] = []
    factor = 1  # frames pooled into each column
    carry = np.zeros(0, dtype=np.float32)
    total = 0
    for chunk in iter_chunks(path, RATE, 10.0, limits=limits):
        total += len(chunk)
        samples = np.concatenate([carry, chunk])
        n = 0 if len(samples) < N_FFT else 1 + (len(samples) - N_FFT) // HOP
        if n:
            frames = np.lib.stride_tricks.sliding_window_view(samples, N_FFT)[::HOP][:n] * window
            power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
            bands = zip(edges[:-1], edges[1:], strict=True)
            banded = np.stack([power[:, lo:max(hi, lo + 1)].mean(axis=1) for lo, hi in bands], axis=1)
            columns.extend(10 * np.log10(banded + 1e-10).astype(np.float32))
        carry = samples[n * HOP:]
        while len(columns) > 2 * max_frames:
            pairs = len(columns) // 2
            stacked = np.stack(columns[: 2 * pairs]).reshape(pairs, 2, BANDS).max(axis=1)
            columns = list(stacked) + columns[2 * pairs:]
            factor *= 2
    if not columns:
        data, ceiling = np.zeros((0, BANDS), dtype=np.uint8), 0.0
    else:
        db = np.stack(columns)
        ceiling = float(db.max())
        data = np.clip((db - (ceiling - RANGE_DB)) / RANGE_DB * 255, 0, 255).astype(np.uint8)
    return {
        "frames": int(data.shape[0]),
        "bands": BANDS,
        "max_hz": RATE // 2,
        "seconds_per_frame": HOP * factor / RATE,
        "duration_s": round(total / RATE, 3),
        "db_ceiling": round(ceiling, 2),
        "db_range": RANGE_DB,
        "data": base64.b64encode(data.tobytes()).decode("ascii"),
    }
