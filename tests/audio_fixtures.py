"""Small real-ish speech-like signals shared by the model, pipeline and training tests."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

RATE = 16000


def voiced(seconds: float, rng: np.random.Generator, f0: float = 120.0, rate: int = RATE) -> np.ndarray:
    """A glottal pulse train with a wandering pitch through two formant resonators, plus breath noise."""
    n = int(seconds * rate)
    pitch = f0 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * np.arange(n) / rate + rng.uniform(0, 6)))
    phase = np.cumsum(pitch / rate)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
    signal = pulses + 0.02 * rng.standard_normal(n)
    for formant, bandwidth in ((rng.uniform(500, 800), 80), (rng.uniform(1100, 1800), 120)):
        r = np.exp(-np.pi * bandwidth / rate)
        signal = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * formant / rate), r * r], signal)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * np.arange(n) / rate) ** 2  # syllable-rate loudness
    signal *= envelope
    return (0.3 * signal / np.max(np.abs(signal))).astype(np.float32)


def buzzy(seconds: float, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """A "vocoded" version: same kind of signal with a flat pitch and a hard high-frequency hiss band,
    an artefact a detector can learn within a few training steps."""
    wave = voiced(seconds, rng, f0=140.0, rate=rate).astype(np.float64)
    hiss = np.diff(rng.standard_normal(len(wave) + 1))  # high-pass noise
    return (wave + 0.05 * hiss).astype(np.float32)


def voiced_vs_buzzy_bank(n_per_class: int, seed: int, groups: tuple[str, ...] = ("a", "b")):
    """A ClipBank of 1.5 s clips: ``voiced`` as real (0), ``buzzy`` as fake (1), groups assigned in turn."""
    from unmask.train.data import ClipBank

    rng = np.random.default_rng(seed)
    waves, targets, names = [], [], []
    for i in range(n_per_class):
        for target, make in ((0, voiced), (1, buzzy)):
            waves.append(make(1.5, rng))
            targets.append(target)
            names.append(groups[i % len(groups)])
    return ClipBank(waves, np.array(targets), np.array(names), [f"clip{i}" for i in range(len(waves))])
