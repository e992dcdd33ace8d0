"""The corruption robustness suite: fixed, documented degradations at graded severities, for benchmarks.

Three families, each corruption with 3-5 severities (1 = mildest); the full table with every parameter is
``docs/corruptions.md`` (generated from this registry by ``scripts/corruption_table.py``):

* ``noise``: white, pink, babble, music, impulsive noise at falling SNRs;
* ``modification``: reverb, pitch shift, time stretch, resampling, clipping, gain, telephone band,
  packet loss;
* ``compression``: MP3, AAC, Opus, Vorbis, AMR-NB, G.726, GSM, G.711 mu/A-law, G.722 and MP3-then-AAC.

Unlike training augmentation (``unmask.train.augment``), nothing is drawn from a range: a severity *is*
a setting, and randomness (which noise samples, which packets) comes only from ``seed``, so a bench is
reproducible. Every severity of one seed shares the random draws, so only the setting changes.

    >>> import numpy as np
    >>> from unmask.eval.corruptions import apply_corruption, CORRUPTIONS
    >>> wave = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32) * 0.5
    >>> out = apply_corruption(wave, 16000, "white-noise", severity=3, seed=0)
    >>> out.shape, out.dtype, CORRUPTIONS["white-noise"].describe(3)
    ((16000,), dtype('float32'), 'SNR 10 dB')

Codecs run through PyAV in-process; GSM and Vorbis need Debian's ``ffmpeg`` CLI (see
:mod:`unmask.signal.codecs`); :func:`corruption_available` says whether one can run here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unmask.eval.corruptions.base import FAMILIES, Corruption, CorruptionError
from unmask.eval.corruptions.compression import COMPRESSION_CORRUPTIONS
from unmask.eval.corruptions.modification import MODIFICATION_CORRUPTIONS
from unmask.eval.corruptions.noise import NOISE_CORRUPTIONS
from unmask.signal.codecs import codec_available

#: Every corruption by name, in family order (noise, modification, compression).
CORRUPTIONS: dict[str, Corruption] = {
    c.name: c for c in (*NOISE_CORRUPTIONS, *MODIFICATION_CORRUPTIONS, *COMPRESSION_CORRUPTIONS)
}


def corruption_names(family: str | None = None) -> list[str]:
    """Names of all corruptions, or of one family (``"noise"``, ``"modification"``, ``"compression"``)."""
    if family is None:
        return list(CORRUPTIONS)
    if family not in FAMILIES:
        raise CorruptionError(f"unknown corruption family {family!r}; choose from {list(FAMILIES)}")
    return [name for name, c in CORRUPTIONS.items() if c.family == family]


def get_corruption(name: str) -> Corruption:
    """The corruption called ``name``; :class:`CorruptionError` listing the valid names otherwise."""
    try:
        return CORRUPTIONS[name]
    except (KeyError, TypeError):
        raise CorruptionError(f"unknown corruption {name!r}; choose from {list(CORRUPTIONS)}") from None


def corruption_available(name: str) -> bool:
    """Whether ``name`` can run on this machine (a codec whose encoder is missing cannot)."""
    params = get_corruption(name).levels[0]
    codecs = [params["codec"]] if "codec" in params else (["mp3", "aac"] if name == "mp3-aac" else [])
    return all(codec_available(c) for c in codecs)


def apply_corruption(wave: np.ndarray, sample_rate: int, name: str, severity: int, seed: int,
                     pool: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Corrupt ``wave`` (1-D float, not modified) with corruption ``name`` at ``severity`` (1..n).

    Returns 1-D float32 at the same ``sample_rate``, finite, the same length (except ``time-stretch``,
    which is about ``len / speed`` long), scaled down only if its peak would exceed 1. Deterministic given
    ``seed``. ``pool`` lists other clips (1-D float, same rate) used as babble voices / background music;
    without one (or with an empty one) those are synthesised from the seed. Raises
    :class:`CorruptionError` (a ValueError) for an unknown name, a bad severity or an unusable input, and
    :class:`~unmask.signal.codecs.CodecUnavailableError` when a codec's encoder is missing here.
    """
    return get_corruption(name)(wave, sample_rate, severity, seed, pool)


__all__ = [
    "CORRUPTIONS", "FAMILIES", "Corruption", "CorruptionError", "apply_corruption", "corruption_available",
    "corruption_names", "get_corruption",
]
