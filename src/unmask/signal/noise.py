"""Noise generators: coloured Gaussian noise and looped excerpts of recorded clips."""

from __future__ import annotations

import numpy as np

#: Spectral slope of each colour: power density proportional to 1 / f**exponent.
COLOUR_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of zero-mean Gaussian noise with a 1/f**k power spectrum (k from COLOUR_EXPONENTS).

    White noise is shaped in the frequency domain; the DC bin is zeroed so pink/brown noise do not drift.
    """
    white = rng.standard_normal(n)
    exponent = COLOUR_EXPONENTS[colour]
    if exponent == 0.0:
        return white - white.mean()
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n)
    scale = np.zeros_like(freqs)
    scale[1:] = freqs[1:] ** (-exponent / 2.0)
    return np.fft.irfft(spectrum * scale, n)


def looped_excerpt(clip: np.ndarray, n: int, start: int) -> np.ndarray:
    """``n`` samples of ``clip`` starting at ``start`` (mod its length), looping a clip that is too short."""
    return np.resize(np.roll(clip, -(int(start) % clip.shape[0])), n)
