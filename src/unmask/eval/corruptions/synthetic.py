"""Deterministic stand-ins for background recordings, used when no ``pool`` of clips is given.

* :func:`synthetic_talker`: a speech-like voice: a glottal pulse train with a random, wandering pitch
  (85-250 Hz) through three formant resonators whose frequencies jump to a new random vowel every
  syllable (120-300 ms), under a syllable envelope with random pauses.
* :func:`synthetic_music`: harmonic notes of a random pentatonic scale (a chord pad and a melody, each
  note a few decaying harmonics) plus percussion (a pitch-dropping sine kick, a noise snare, a
  high-passed noise hi-hat) on a random tempo (80-140 bpm).

Neither is real speech or music, but both have the temporal and spectral structure (pitch, formants,
onsets, harmonics) that makes background sounds harder than stationary noise.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from unmask.signal.synth import formant_filter

#: (F1, F2, F3) in Hz of a few vowels a synthetic talker cycles through.
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410),
          (660, 1720, 2410), (440, 1020, 2240))


def synthetic_talker(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of one synthetic voice (see module docstring); peak about 1."""
    t = np.arange(n) / rate
    f0 = rng.uniform(85.0, 250.0)
    pitch = f0 * (1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 2 * np.pi)))
    pulses = np.diff(np.floor(np.cumsum(pitch / rate)), prepend=0.0)
    source = signal.lfilter([1.0], [1.0, -0.9], pulses) + 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    envelope = np.zeros(n)
    start = 0
    while start < n:
        length = int(rng.uniform(0.12, 0.30) * rate)
        stop = min(n, start + length)
        if rng.random() > 0.15:  # some syllables are pauses
            vowel = VOWELS[int(rng.integers(len(VOWELS)))]
            formants = tuple((f * rng.uniform(0.9, 1.1), 80.0 + 0.06 * f) for f in vowel)
            out[start:stop] = formant_filter(source[start:stop], formants, rate)
            envelope[start:stop] = np.sin(np.pi * np.arange(stop - start) / max(1, stop - start)) ** 0.5
        start = stop
    out *= envelope
    peak = np.max(np.abs(out))
    return out / peak if peak > 0 else out


def _note(length: int, rate: int, freq: float, decay_s: float) -> np.ndarray:
    t = np.arange(length) / rate
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 5) if freq * k < rate / 2)
    return tone * np.exp(-t / decay_s) * np.minimum(1.0, t * 200.0)  # 5 ms attack: no click


def synthetic_music(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of procedurally generated music (see module docstring); peak about 1."""
    beat = int(rate * 60.0 / rng.uniform(80.0, 140.0))
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    scale = root * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21]) / 12)
    music = np.zeros(n + 4 * beat)
    t_beat = np.arange(beat) / rate
    kick = np.sin(2 * np.pi * np.cumsum(60.0 + 90.0 * np.exp(-t_beat * 30)) / rate) * np.exp(-t_beat * 12)
    snare = rng.standard_normal(beat) * np.exp(-t_beat * 25)
    hat_len = beat // 4
    hat = np.diff(rng.standard_normal(hat_len + 1)) * np.exp(-np.arange(hat_len) / rate * 60)
    for i, start in enumerate(range(0, n, beat)):
        if i % 4 == 0:  # a chord pad every bar
            for degree in rng.choice(5, size=3, replace=False):
                music[start:start + 4 * beat] += 0.3 * _note(4 * beat, rate, scale[degree], 1.2)
        music[start:start + beat] += 0.5 * _note(beat, rate, 2 * scale[int(rng.integers(len(scale)))], 0.25)
        music[start:start + beat] += 0.8 * (kick if i % 2 == 0 else 0.5 * snare)
        for k in range(2):
            music[start + k * beat // 2:start + k * beat // 2 + hat_len] += 0.15 * hat
    music = music[:n]
    peak = np.max(np.abs(music))
    return music / peak if peak > 0 else music
