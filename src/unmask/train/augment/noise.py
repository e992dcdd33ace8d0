"""Additive noise at a random signal-to-noise ratio: coloured noise, or background/babble clips.

The noise generators live in :mod:`unmask.signal.noise` (shared with the evaluation corruptions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from unmask.signal.noise import COLOUR_EXPONENTS, coloured_noise, looped_excerpt
from unmask.train.augment.base import (
    Augmentation,
    AugmentationConfigError,
    as_choices,
    as_range,
    power,
    uniform,
)

NOISE_KINDS = (*COLOUR_EXPONENTS, "clip", "babble")


@dataclass
class AddNoise(Augmentation):
    """Add noise scaled so that the signal-to-noise ratio (whole-clip mean powers) is a draw in ``snr_db``.

    ``kinds`` lists what may be drawn, each equally likely: ``white``, ``pink`` (1/f), ``brown`` (1/f^2),
    ``clip`` (a random excerpt of one of ``clips``: background noise, music, another recording) and
    ``babble`` (the sum of ``babble_talkers`` excerpts of different ``clips``, each at equal power: crowd
    noise when the clips are speech). ``kinds=None`` means the three colours, plus ``clip`` and
    ``babble`` when clips are given. Clips are 1-D float arrays at ``sample_rate``; shorter ones loop.

    A silent input is returned unchanged (an SNR against silence is undefined). Noise that comes out
    all zeros (a silent clip excerpt; a 1-sample input) is replaced by white noise so the SNR holds.
    """

    snr_db: tuple[float, float] = (5.0, 30.0)
    kinds: tuple[str, ...] | None = None
    clips: Sequence[np.ndarray] | None = field(default=None, repr=False)
    babble_talkers: tuple[float, float] = (3, 6)
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        self.snr_db = as_range(self.snr_db, "snr_db", low=-30.0, high=120.0)
        self.babble_talkers = as_range(self.babble_talkers, "babble_talkers", low=1)
        self.clips = [self._check_clip(c, i) for i, c in enumerate(self.clips or [])]
        if self.kinds is None:
            self.kinds = tuple(COLOUR_EXPONENTS) + (("clip", "babble") if self.clips else ())
        self.kinds = as_choices(self.kinds, "kinds")
        unknown = sorted(set(self.kinds) - set(NOISE_KINDS))
        if unknown:
            raise AugmentationConfigError(f"AddNoise: unknown kind(s) {unknown}; choose from {NOISE_KINDS}")
        if not self.clips and {"clip", "babble"} & set(self.kinds):
            raise AugmentationConfigError("AddNoise: kinds 'clip'/'babble' need noise clips",
                                          hint="pass clips=[array, ...] at the same sample rate")

    @staticmethod
    def _check_clip(clip: np.ndarray, index: int) -> np.ndarray:
        arr = np.asarray(clip, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or not np.any(arr):
            raise AugmentationConfigError(
                f"AddNoise: noise clip #{index} must be a non-empty, finite, not silent 1-D array "
                f"(got shape {arr.shape})")
        return arr

    def _excerpt(self, clip: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        return looped_excerpt(clip, n, int(rng.integers(clip.shape[0])))  # loops a short clip

    def make_noise(self, kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """Unscaled noise of ``kind``, ``n`` samples long."""
        if kind in COLOUR_EXPONENTS:
            noise = coloured_noise(n, kind, rng)
        elif kind == "clip":
            noise = self._excerpt(self.clips[rng.integers(len(self.clips))], n, rng)
        else:
            talkers = int(rng.integers(int(self.babble_talkers[0]), int(self.babble_talkers[1]) + 1))
            picks = rng.choice(len(self.clips), size=talkers, replace=talkers > len(self.clips))
            noise = np.zeros(n)
            for i in picks:
                part = self._excerpt(self.clips[i], n, rng)
                noise += part / np.sqrt(max(power(part), 1e-20))
        if power(noise) <= 1e-20:  # a silent excerpt, or a 1-sample zero-mean draw
            noise = rng.standard_normal(n)
        return noise

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        signal_power = power(x)
        if signal_power == 0.0:
            return x
        kind = self.kinds[rng.integers(len(self.kinds))]
        snr = uniform(rng, self.snr_db)
        noise = self.make_noise(kind, x.shape[0], rng)
        noise *= np.sqrt(signal_power / (power(noise) * 10.0 ** (snr / 10.0)))
        return x + noise
