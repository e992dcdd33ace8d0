"""The named copy-synthesis systems (``unmask data synthesize copy --systems world,lpc``)."""

from __future__ import annotations

from collections.abc import Callable

from unmask.data.synthesize.base import CopySystem
from unmask.data.synthesize.griffinlim import GriffinLim
from unmask.data.synthesize.lpc import LpcVocoder
from unmask.data.synthesize.world import WorldVocoder

# name -> factory; a factory (not an instance) so settings can be overridden per call.
COPY_SYSTEMS: dict[str, Callable[..., CopySystem]] = {
    # WORLD with full-resolution envelope and aperiodicity, DIO + StoneMask F0.
    "world": lambda **kw: WorldVocoder(**{"name": "world", **kw}),
    # WORLD through a 24-dim coded envelope and coarse aperiodicity bands (parametric-TTS features).
    "world-coarse": lambda **kw: WorldVocoder(**{"name": "world-coarse", "envelope_dims": 24,
                                                 "coded_aperiodicity": True, **kw}),
    # Linear STFT magnitude (32 ms, hop 8 ms at 16 kHz) -> 32 iterations of fast Griffin-Lim.
    "griffinlim": lambda **kw: GriffinLim(**{"name": "griffinlim", **kw}),
    # 80-band log-mel (1024/256, as TTS front-ends) -> pseudo-inverse -> fast Griffin-Lim.
    "griffinlim-mel": lambda **kw: GriffinLim(**{"name": "griffinlim-mel", "n_fft": 1024, "hop": 256,
                                                 "mel_bands": 80, **kw}),
    # Order-20 LPC, 25 ms frames, pulse/noise excitation from an autocorrelation F0 track.
    "lpc": lambda **kw: LpcVocoder(**{"name": "lpc", **kw}),
}


def copy_system_names() -> list[str]:
    return list(COPY_SYSTEMS)


def get_copy_system(name: str, **settings: object) -> CopySystem:
    """The copy-synthesis system registered as ``name``, with optional setting overrides."""
    try:
        factory = COPY_SYSTEMS[name]
    except KeyError:
        known = ", ".join(COPY_SYSTEMS)
        raise ValueError(f"unknown copy-synthesis system {name!r}; known: {known}") from None
    return factory(**settings)
