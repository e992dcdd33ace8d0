"""WORLD vocoder copy-synthesis (Morise et al., 2016) through ``pyworld``.

WORLD splits speech into an F0 contour, a smooth spectral envelope (CheapTrick) and a band aperiodicity
(D4C), then rebuilds it from minimum-phase pulses plus shaped noise. The twin therefore keeps the words, the
prosody and the channel colouring of the original, but takes WORLD's excitation model and its phase: no
original phase survives. It stands for the source-filter vocoders of statistical parametric TTS and of many
voice-conversion systems.

Two settings matter:

* ``f0_method``: ``"dio"`` (DIO + StoneMask refinement, ~0.03x real time) or ``"harvest"`` (more robust
  voicing decisions, ~0.5x real time on one core, so about 15 times slower);
* ``envelope_dims``/``coded_aperiodicity``: when set, the envelope is coded to that many mel-cepstrum-like
  coefficients and back (``pyworld.code_spectral_envelope``) and the aperiodicity to WORLD's coarse bands,
  the low-dimensional acoustic features a parametric TTS model predicts. ``world-coarse`` uses 24 dims.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from unmask.data.synthesize.base import CopySystem, SynthesisError

F0_METHODS = ("dio", "harvest")
# One analysis kept per process: the variants of a clip share it. Arrays are only read, never written.
_last_analysis: dict[str, object] = {}


def _pyworld() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # pyworld 0.3.5 imports pkg_resources, which setuptools marks deprecated; nothing we can act on.
            warnings.simplefilter("ignore")
            import pyworld
    except ImportError as exc:
        raise SynthesisError(
            f"the WORLD vocoder needs the pyworld package ({exc})",
            hint="pip install 'setuptools<81' pyworld (pyworld imports pkg_resources)",
        ) from exc
    return pyworld


@dataclass(frozen=True)
class WorldVocoder(CopySystem):
    """Analyse with WORLD (F0, CheapTrick envelope, D4C aperiodicity) and synthesise back."""

    name: str = "world"
    f0_method: str = "dio"
    frame_period_ms: float = 5.0
    f0_floor_hz: float = 71.0
    f0_ceil_hz: float = 800.0
    envelope_dims: int | None = None
    coded_aperiodicity: bool = False

    def __post_init__(self) -> None:
        if self.f0_method not in F0_METHODS:
            raise ValueError(f"f0_method must be one of {F0_METHODS}, got {self.f0_method!r}")
        if self.envelope_dims is not None and self.envelope_dims < 2:
            raise ValueError(f"envelope_dims must be >= 2 (or None), got {self.envelope_dims}")

    def _resynthesize(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        # WORLD is deterministic (its noise generator is reseeded on every call); rng is not needed.
        pw = _pyworld()
        x = np.ascontiguousarray(wave, dtype=np.float64)
        f0, envelope, aperiodicity = self._analyse(pw, x, sample_rate)
        fft_size = (envelope.shape[1] - 1) * 2
        if self.envelope_dims is not None:
            coded = pw.code_spectral_envelope(envelope, sample_rate, self.envelope_dims)
            envelope = pw.decode_spectral_envelope(np.ascontiguousarray(coded), sample_rate, fft_size)
        if self.coded_aperiodicity:
            coded = pw.code_aperiodicity(aperiodicity, sample_rate)
            aperiodicity = pw.decode_aperiodicity(np.ascontiguousarray(coded), sample_rate, fft_size)
        return pw.synthesize(f0, np.ascontiguousarray(envelope), np.ascontiguousarray(aperiodicity),
                             sample_rate, self.frame_period_ms)

    def _analyse(self, pw: ModuleType, x: np.ndarray, sample_rate: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """F0, envelope, aperiodicity; the last clip's are reused (``world`` then ``world-coarse``)."""
        key = (hashlib.blake2b(x.tobytes(), digest_size=16).digest(), sample_rate, self.f0_method,
               self.frame_period_ms, self.f0_floor_hz, self.f0_ceil_hz)
        if _last_analysis.get("key") != key:
            f0, times = self._track_f0(pw, x, sample_rate)
            envelope = pw.cheaptrick(x, f0, times, sample_rate, f0_floor=self.f0_floor_hz)
            aperiodicity = pw.d4c(x, f0, times, sample_rate)
            _last_analysis.clear()
            _last_analysis.update(key=key, features=(f0, envelope, aperiodicity))
        return _last_analysis["features"]

    def _track_f0(self, pw: ModuleType, x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        settings = {"f0_floor": self.f0_floor_hz, "f0_ceil": self.f0_ceil_hz,
                    "frame_period": self.frame_period_ms}
        if self.f0_method == "harvest":
            return pw.harvest(x, sample_rate, **settings)
        f0, times = pw.dio(x, sample_rate, **settings)
        return pw.stonemask(x, f0, times, sample_rate), times
