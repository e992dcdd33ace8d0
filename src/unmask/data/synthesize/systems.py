"""The named copy-synthesis systems (``unmask data synthesize copy --systems world,lpc``).

:data:`COPY_SYSTEMS` are the DSP vocoders (no training needed, the default set). The neural ones
(:func:`neural_system_names`: melgan, hifigan, upsample-conv, subpixel, istft, codec-rvq-2/4/8,
snake-vae) need trained checkpoints: ``get_copy_system(name, vocoders_dir=DIR)`` with DIR as
``unmask data train-vocoders`` wrote it.
"""

from __future__ import annotations

from collections.abc import Callable

from unmask.data.synthesize.base import CopySystem
from unmask.data.synthesize.griffinlim import GriffinLim
from unmask.data.synthesize.lpc import LpcVocoder
from unmask.data.synthesize.vocoders.system import NeuralVocoderSystem, neural_system_names
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
    """The copy-synthesis system registered as ``name``, with optional setting overrides.

    Neural systems need ``vocoders_dir`` (the folder of trained checkpoints) among the settings.
    """
    if name in neural_system_names():
        vocoders_dir = settings.pop("vocoders_dir", None)
        if vocoders_dir is None:
            raise ValueError(f"copy-synthesis system {name!r} is a trained neural vocoder: give the folder "
                             "of checkpoints (--vocoders DIR, made by `unmask data train-vocoders`); "
                             f"systems that need no training: {', '.join(COPY_SYSTEMS)}")
        return NeuralVocoderSystem.from_directory(name, str(vocoders_dir), **settings)
    try:
        factory = COPY_SYSTEMS[name]
    except KeyError:
        known = ", ".join([*COPY_SYSTEMS, *neural_system_names()])
        raise ValueError(f"unknown copy-synthesis system {name!r}; known: {known}") from None
    return factory(**settings)
