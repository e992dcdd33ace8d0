"""Shared inputs for the feature tests: a synthetic speech-like signal and, when present, a real clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

SAMPLE_RATE = 16_000
SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "realworld-dev" / "speech" / "real"


def make_signal(seconds: float = 1.5, *, seed: int = 0, extra_samples: int = 37) -> np.ndarray:
    """Chirp 100 Hz -> 6 kHz, a 180 Hz tone with 5 harmonics, and white noise; odd length; float64."""
    n = int(seconds * SAMPLE_RATE) + extra_samples
    t = np.arange(n) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    chirp = 0.3 * scipy.signal.chirp(t, f0=100, t1=t[-1], f1=6000, method="logarithmic")
    phases = rng.uniform(0, 2 * np.pi, size=5)
    harmonics = sum(0.1 / k * np.sin(2 * np.pi * 180 * k * t + phases[k - 1]) for k in range(1, 6))
    return chirp + harmonics + 0.01 * rng.standard_normal(n)


@pytest.fixture(scope="session")
def signal() -> np.ndarray:
    return make_signal()


@pytest.fixture(scope="session")
def speech_clip() -> np.ndarray:
    """Two seconds of a real speech recording from ../shared (skips when the data set is absent)."""
    sf = pytest.importorskip("soundfile")
    files = sorted(SHARED_SPEECH.rglob("*.flac")) + sorted(SHARED_SPEECH.rglob("*.wav"))
    if not files:
        pytest.skip(f"no speech clips under {SHARED_SPEECH} (the shared realworld-dev data set is absent)")
    audio, rate = sf.read(files[0], dtype="float64", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = scipy.signal.resample_poly(audio, SAMPLE_RATE, rate)
    return audio[SAMPLE_RATE : 3 * SAMPLE_RATE]


def peak_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest absolute difference divided by the reference's largest magnitude."""
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
