"""Lossy codec round-trips through PyAV, in memory: MP3, AAC, Opus, AMR-NB, G.711 (mu/A-law), G.722.

The encode/decode/align machinery lives in :mod:`unmask.signal.codecs` (shared with the evaluation
corruptions, which also use its ffmpeg-CLI codecs); training uses only the in-process PyAV ones below.

The wave is resampled to a rate the codec runs at, encoded into a container in an ``io.BytesIO``,
decoded back (swresample returns it to the input rate), re-aligned to the input and cut to its length.

Re-alignment: encoders add priming samples and look-ahead (AAC in ADTS keeps its 1024, G.722 and
AMR-NB a few ms; MP3 and Opus delays are trimmed by the decoder), so the delay is measured, not
assumed: the lag that maximises the cross-correlation with the input, searched within
+/- ``max_delay_ms``. A codec's delay does not depend on what it encodes, so by default
(``alignment="calibrated"``) it is measured once per codec, rate and bitrate on a built-in vowel-like
probe and cached: robust where a per-call estimate is not (crops that are mostly silence, strongly
periodic music, or AMR-NB, whose CELP output follows the spectrum more than the waveform), and it
saves the correlation on every call. ``alignment="per_call"`` measures on each input instead.

Which codecs exist depends on the FFmpeg build inside the PyAV wheel; :func:`available_codecs` checks.
The PyAV 18 wheel used to develop this has every encoder below, AMR-NB (libopencore_amrnb) and G.722
included. Asking for a codec the wheel lacks raises :class:`AugmentationConfigError` naming it; the
default (``codecs=None``) uses the available ones and :attr:`CodecRoundTrip.unavailable` says which not.

Cost is dominated by the encoder: for a 4 s crop at 16 kHz, MP3/AAC/Opus/AMR-NB take a few tens of
ms per call on one CPU core, G.711/G.722 5-15 ms (resampling included; the delay is cached).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from unmask.signal.codecs import CODECS as SIGNAL_CODECS
from unmask.signal.codecs import (
    MIN_ENCODE_SECONDS,
    CodecSpec,
    align,
    codec_delay,
    codec_round_trip,
    default_codec_rate,
    encode_decode,
    estimate_delay,
    undelay,
)
from unmask.signal.codecs import has_pyav_encoder as _has_encoder
from unmask.signal.synth import speech_like_probe
from unmask.train.augment.base import (
    Augmentation,
    AugmentationConfigError,
    as_choices,
    check_sample_rate,
)

__all__ = [
    "CODECS", "MIN_ENCODE_SECONDS", "TRAIN_CODECS", "CodecRoundTrip", "CodecSpec", "align",
    "available_codecs", "codec_delay", "encode_decode", "estimate_delay", "speech_like_probe", "undelay",
]


#: The codecs training draws from: those PyAV runs in-process (no ffmpeg subprocess per training clip).
TRAIN_CODECS = ("mp3", "aac", "opus", "amr_nb", "mulaw", "alaw", "g722")

#: Every codec this module knows. Bitrates are the defaults drawn from; ``None`` = fixed-rate codec.
CODECS: dict[str, CodecSpec] = {name: SIGNAL_CODECS[name] for name in TRAIN_CODECS}


def available_codecs() -> tuple[str, ...]:
    """Names from :data:`CODECS` whose encoder is present in this PyAV build."""
    return tuple(name for name, spec in CODECS.items() if _has_encoder(spec.encoder))


@dataclass
class CodecRoundTrip(Augmentation):
    """Pass the wave through a lossy codec drawn from ``codecs`` at a bitrate drawn from its list.

    * ``codecs``: names from :data:`CODECS`; ``None`` means every one this PyAV build can encode.
    * ``bitrates``: per-codec override of the bitrates (bit/s) drawn from, e.g. ``{"mp3": [32000]}``.
    * ``opus_rates``: rates Opus is run at, one drawn per call (8 kHz narrow-band, 16 kHz wide-band,
      48 kHz full-band; the input is resampled to it and back).
    * ``max_delay_ms``: the largest codec delay searched when re-aligning.
    * ``alignment``: ``"calibrated"`` (each codec setting's delay measured once on a probe, cached) or
      ``"per_call"`` (cross-correlate every output with its input); see the module docstring.

    Other codecs run at the input rate when they support it (MP3, AAC), else at their only rate
    (8 kHz for AMR-NB and G.711, 16 kHz for G.722): those also band-limit what they carry.
    """

    codecs: tuple[str, ...] | None = None
    bitrates: Mapping[str, Sequence[int]] | None = None
    opus_rates: tuple[int, ...] = (8000, 16000, 48000)
    max_delay_ms: float = 250.0
    alignment: str = "calibrated"
    sample_rate: int = 16000
    unavailable: tuple[str, ...] = field(init=False, default=())
    _bitrates: dict[str, tuple[int | None, ...]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.sample_rate = check_sample_rate(self.sample_rate)
        present = available_codecs()
        self.unavailable = tuple(name for name in CODECS if name not in present)
        requested = present if self.codecs is None else as_choices(self.codecs, "codecs")
        unknown = sorted(set(requested) - set(CODECS))
        if unknown:
            raise AugmentationConfigError(
                f"CodecRoundTrip: unknown codec(s) {unknown}; known: {list(CODECS)}")
        missing = sorted(set(requested) & set(self.unavailable))
        if missing:
            raise AugmentationConfigError(
                f"CodecRoundTrip: this PyAV build has no encoder for {missing} "
                f"({', '.join(CODECS[m].encoder for m in missing)})",
                hint="drop them from 'codecs', or install a PyAV/FFmpeg build with those encoders")
        if not requested:
            raise AugmentationConfigError("CodecRoundTrip: no codec is available in this PyAV build")
        self.codecs = tuple(requested)
        self.opus_rates = tuple(int(r) for r in as_choices(self.opus_rates, "opus_rates"))
        bad = sorted(set(self.opus_rates) - set(CODECS["opus"].rates))
        if bad:
            raise AugmentationConfigError(f"CodecRoundTrip: Opus cannot run at {bad} Hz; "
                                          f"choose from {list(CODECS['opus'].rates)}")
        overrides = dict(self.bitrates or {})
        unknown = sorted(set(overrides) - set(CODECS))
        if unknown:
            raise AugmentationConfigError(f"CodecRoundTrip: bitrates given for unknown codec(s) {unknown}")
        self._bitrates = {
            name: tuple(int(b) for b in as_choices(overrides[name], f"bitrates[{name}]"))
            if name in overrides else CODECS[name].bitrates
            for name in self.codecs
        }
        if self.max_delay_ms <= 0:
            raise AugmentationConfigError(f"max_delay_ms must be > 0, got {self.max_delay_ms}")
        if self.alignment not in ("calibrated", "per_call"):
            raise AugmentationConfigError(
                f"alignment must be 'calibrated' or 'per_call', got {self.alignment!r}")

    def codec_rate(self, name: str, rng: np.random.Generator) -> int:
        """The rate ``name`` runs at for this call (drawn for Opus)."""
        if name == "opus":
            return self.opus_rates[rng.integers(len(self.opus_rates))]
        return default_codec_rate(name, self.sample_rate)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        name = self.codecs[rng.integers(len(self.codecs))]
        bitrates = self._bitrates[name]
        bitrate = bitrates[rng.integers(len(bitrates))]
        rate = self.codec_rate(name, rng)
        return codec_round_trip(x, self.sample_rate, name, bitrate, rate=rate, alignment=self.alignment,
                                max_delay_ms=self.max_delay_ms)
