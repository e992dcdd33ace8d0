"""The :class:`Corruption` type: a named, fixed ladder of settings (one per severity) and the function
that applies one setting, plus the rules every corruption output follows."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unmask.errors import UnmaskError
from unmask.signal import peak_limit
from unmask.signal.core import validated_wave

FAMILIES = ("noise", "modification", "compression")

#: ``fn(x, sample_rate, params, rng, pool) -> y``: x is a float64 copy, pool validated clips or None.
CorruptFn = Callable[[np.ndarray, int, Mapping[str, Any], np.random.Generator, Sequence[np.ndarray] | None],
                     np.ndarray]


class CorruptionError(UnmaskError, ValueError):
    """An unknown corruption name or family, a severity out of range, or an unusable input wave/pool."""


@dataclass(frozen=True)
class Corruption:
    """One corruption: ``levels[s - 1]`` holds the parameters of severity ``s`` (1 = mildest).

    ``stochastic`` says whether the output depends on the seed (noise draws, packets lost...); a
    deterministic one (gain, codecs...) ignores it. ``preserves_length`` is False only for time-stretch.
    """

    name: str
    family: str
    summary: str
    levels: tuple[Mapping[str, Any], ...]
    fn: CorruptFn = field(repr=False)
    describe_level: Callable[[Mapping[str, Any]], str] = field(repr=False)
    stochastic: bool = False
    preserves_length: bool = True

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: family must be one of {FAMILIES}, got {self.family!r}")
        if not 3 <= len(self.levels) <= 5:
            raise ValueError(f"{self.name}: needs 3-5 severities, got {len(self.levels)}")

    @property
    def severities(self) -> int:
        """How many severities there are (valid severities are 1..severities)."""
        return len(self.levels)

    def check_severity(self, severity: int) -> int:
        if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) \
                or not 1 <= severity <= self.severities:
            raise CorruptionError(
                f"corruption {self.name!r} has severities 1..{self.severities}, got {severity!r}",
                hint=f"valid: {list(range(1, self.severities + 1))}")
        return int(severity)

    def parameters(self, severity: int) -> dict[str, Any]:
        """The settings of ``severity`` (a copy: editing it changes nothing)."""
        return dict(self.levels[self.check_severity(severity) - 1])

    def describe(self, severity: int) -> str:
        """A short human-readable label of ``severity``, e.g. ``"SNR 10 dB"``."""
        return self.describe_level(self.parameters(severity))

    def rng(self, seed: int) -> np.random.Generator:
        """The generator for ``seed``: keyed by the corruption's name too (so two corruptions with one seed
        draw independently) but not by severity, so every severity of one seed shares its random draws
        (same noise, same lost packets...) and only the setting changes between them."""
        return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(self.name.encode())])

    def __call__(self, wave: np.ndarray, sample_rate: int, severity: int, seed: int = 0,
                 pool: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """Apply severity ``severity``; see :func:`unmask.eval.corruptions.apply_corruption`."""
        params = self.parameters(severity)
        x = _validated_wave(wave, self.name)
        rate = _validated_rate(sample_rate, self.name)
        clips = _validated_pool(pool, self.name)
        if x.size == 0:
            return x.astype(np.float32)
        y = np.asarray(self.fn(x, rate, params, self.rng(seed), clips), dtype=np.float64)
        if self.preserves_length and y.shape != x.shape:  # a bug in a corruption, never to be padded over
            raise RuntimeError(f"{self.name} changed the length from {x.shape[0]} to {y.shape[0]} samples")
        if not np.all(np.isfinite(y)):
            raise RuntimeError(f"{self.name} produced non-finite samples")
        return peak_limit(y).astype(np.float32)


def _validated_wave(wave: np.ndarray, who: str) -> np.ndarray:
    return validated_wave(wave, who, CorruptionError)


def _validated_rate(sample_rate: int, who: str) -> int:
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or not 4000 <= sample_rate <= 192000:
        raise CorruptionError(
            f"{who}: sample_rate must be an integer in 4000..192000 Hz, got {sample_rate!r}")
    return int(sample_rate)


def _validated_pool(pool: Sequence[np.ndarray] | None, who: str) -> list[np.ndarray] | None:
    if pool is None:
        return None
    clips = []
    for i, clip in enumerate(pool):
        arr = np.asarray(clip)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.floating) \
                or not np.all(np.isfinite(arr)) or not np.any(arr):
            raise CorruptionError(
                f"{who}: pool clip #{i} must be a non-empty, finite, not silent 1-D float array at the "
                f"wave's sample rate (got shape {arr.shape}, dtype {arr.dtype})")
        clips.append(arr.astype(np.float64))
    if not clips:
        return None  # an empty pool means "no pool": the documented synthetic fallback is used
    return clips
