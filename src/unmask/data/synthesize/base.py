"""The contract every copy-synthesis system follows, and the helpers they share.

A copy-synthesis system analyses a real waveform and rebuilds it through a vocoder, so the result keeps the
speaker, the words and the recording channel of the original and differs from it only by the vocoder's
fingerprint. A system is an object built once from its settings and called as
``system.resynthesize(wave, sample_rate, rng)``:

* ``wave`` is 1-D float (any dtype), not changed by the call; ``rng`` is a :class:`numpy.random.Generator`
  for every random choice the system makes (random phases, noise excitation), so the same wave and a
  generator seeded the same way give the same output;
* the output is float32, the same length as the input, finite, at the input's RMS level (scaled down only
  where that level would push the peak past full scale).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from unmask.errors import UnmaskError

# Below this RMS a clip is digital silence: nothing to analyse, and no level to match.
_SILENCE_RMS = 1e-7
# Peak ceiling after level matching, just under full scale so 16-bit FLAC does not clip.
_PEAK_CEILING = 0.999


class SynthesisError(UnmaskError):
    """A clip cannot be resynthesised (too short, a vocoder failed, an engine or library is missing)."""


class CopySystem(ABC):
    """A vocoder that turns a real waveform into its fake twin (see the module docstring for the contract)."""

    name: str
    min_seconds: float = 0.1

    def resynthesize(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """Rebuild ``wave`` through this system; same length, float32, finite, level matched."""
        reference = np.asarray(wave, dtype=np.float64)
        if reference.ndim != 1:
            raise ValueError(f"{self.name}: expected a 1-D waveform, got shape {reference.shape}")
        if reference.size < self.min_seconds * sample_rate:
            seconds = reference.size / sample_rate
            raise SynthesisError(f"{self.name}: clip of {seconds:.3f} s is shorter than the "
                                 f"{self.min_seconds} s this system needs")
        if not np.isfinite(reference).all():
            raise SynthesisError(f"{self.name}: input holds NaN or infinite samples")
        if rms(reference) < _SILENCE_RMS:
            return np.zeros(reference.size, dtype=np.float32)
        rebuilt = self._resynthesize(reference, int(sample_rate), rng)
        rebuilt = fit_length(np.asarray(rebuilt, dtype=np.float64), reference.size)
        if not np.isfinite(rebuilt).all():
            raise SynthesisError(f"{self.name}: the vocoder produced NaN or infinite samples")
        return match_level(rebuilt, reference)

    @abstractmethod
    def _resynthesize(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """The system proper: float64 in, float64 out of about the same length (the caller trims/pads)."""

    def describe(self) -> str:
        """One line naming the system and its settings (for logs and manifests)."""
        return f"{self.name}: {self!r}"


def rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if wave.size else 0.0


def fit_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad ``wave`` at the end to exactly ``length`` samples."""
    if wave.size >= length:
        return wave[:length]
    return np.pad(wave, (0, length - wave.size))


def match_level(wave: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``wave`` scaled to the RMS of ``reference``, then down (only) if its peak would pass full scale."""
    level = rms(wave)
    if level < _SILENCE_RMS:
        return np.zeros(wave.size, dtype=np.float32)
    scaled = wave * (rms(reference) / level)
    peak = float(np.max(np.abs(scaled)))
    if peak > _PEAK_CEILING:
        scaled *= _PEAK_CEILING / peak
    return scaled.astype(np.float32)
