"""Lossy codec round-trips through PyAV, in memory: MP3, AAC, Opus, AMR-NB, G.711 (mu/A-law), G.722.

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

import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import av
import numpy as np
from scipy import signal

from unmask.train.augment.base import (
    Augmentation,
    AugmentationConfigError,
    as_choices,
    check_sample_rate,
    fit_length,
)
from unmask.train.augment.channel import resample


@dataclass(frozen=True)
class CodecSpec:
    """How to run one codec: container, FFmpeg encoder, the rates it runs at, default bitrates (bit/s)."""

    container: str
    encoder: str
    rates: tuple[int, ...]
    bitrates: tuple[int | None, ...]
    description: str


#: Inputs shorter than this are zero-padded before encoding (and trimmed back afterwards).
MIN_ENCODE_SECONDS = 0.25

_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

#: Every codec this module knows. Bitrates are the defaults drawn from; ``None`` = fixed-rate codec.
CODECS: dict[str, CodecSpec] = {
    "mp3": CodecSpec("mp3", "libmp3lame", _MP3_RATES, (24000, 32000, 48000, 64000), "MP3 (LAME)"),
    "aac": CodecSpec("adts", "aac", _MP3_RATES, (16000, 24000, 32000, 64000), "AAC-LC (FFmpeg native)"),
    "opus": CodecSpec("ogg", "libopus", (8000, 12000, 16000, 24000, 48000),
                      (8000, 12000, 16000, 24000, 32000), "Opus (libopus), rate drawn in opus_rates"),
    "amr_nb": CodecSpec("amr", "libopencore_amrnb", (8000,),
                        (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200), "AMR-NB, the GSM codec, 8 kHz"),
    "mulaw": CodecSpec("wav", "pcm_mulaw", (8000,), (None,), "G.711 mu-law, 8 kHz, 64 kbit/s"),
    "alaw": CodecSpec("wav", "pcm_alaw", (8000,), (None,), "G.711 A-law, 8 kHz, 64 kbit/s"),
    "g722": CodecSpec("wav", "adpcm_g722", (16000,), (None,), "G.722 ADPCM wideband, 16 kHz, 64 kbit/s"),
}


def available_codecs() -> tuple[str, ...]:
    """Names from :data:`CODECS` whose encoder is present in this PyAV build."""
    return tuple(name for name, spec in CODECS.items() if _has_encoder(spec.encoder))


def _has_encoder(encoder: str) -> bool:
    # av.codecs_available lists codec names (e.g. "g722"), not encoder names ("adpcm_g722"): ask directly.
    try:
        av.Codec(encoder, "w")
    except ValueError:  # av.codec.codec.UnknownCodecError
        return False
    return True


def encode_decode(x: np.ndarray, rate: int, spec: CodecSpec, bitrate: int | None,
                  out_rate: int) -> np.ndarray:
    """Encode float ``x`` at ``rate`` with ``spec`` in memory and decode it back at ``out_rate`` (float64).

    The result is not aligned or trimmed: it includes whatever delay and padding the codec added.
    """
    # Very short inputs are zero-padded: encoders need whole frames, and a stream of a few packets
    # can fail to decode. The padding lies after the signal, so aligning and trimming remove it.
    x = fit_length(x, max(x.shape[0], int(MIN_ENCODE_SECONDS * rate)))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=spec.container) as container:
        stream = container.add_stream(spec.encoder, rate=rate, layout="mono")
        if bitrate is not None:
            stream.bit_rate = bitrate
        frame = av.AudioFrame.from_ndarray(x.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = rate
        # PyAV converts the sample format and cuts the frame into the encoder's frame size itself.
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    buffer.seek(0)
    parts = []
    with av.open(buffer, mode="r", format=spec.container) as container:  # no guessing from a few bytes
        resampler = av.AudioResampler(format="flt", layout="mono", rate=out_rate)
        for decoded in container.decode(audio=0):
            parts.extend(f.to_ndarray()[0] for f in resampler.resample(decoded))
        parts.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def estimate_delay(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> int:
    """Samples by which ``delayed`` lags ``reference`` (negative: it leads), within +/- ``max_lag``.

    The lag maximising the cross-correlation; 0 when either signal is silent.
    """
    if not np.any(reference) or not np.any(delayed):
        return 0
    corr = signal.correlate(delayed, reference, mode="full", method="fft")
    lags = signal.correlation_lags(delayed.shape[0], reference.shape[0], mode="full")
    window = np.abs(lags) <= max_lag
    return int(lags[window][np.argmax(corr[window])])


def undelay(delayed: np.ndarray, lag: int, length: int) -> np.ndarray:
    """Remove a delay of ``lag`` samples (negative: add one), then cut/zero-pad to ``length``."""
    shifted = delayed[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), delayed])
    return fit_length(shifted, length)


def align(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> np.ndarray:
    """``delayed`` shifted to line up with ``reference`` and cut/zero-padded to its length."""
    return undelay(delayed, estimate_delay(reference, delayed, max_lag), reference.shape[0])


def speech_like_probe(sample_rate: int, seconds: float = 1.0) -> np.ndarray:
    """A deterministic vowel-like signal: a pulse train (pitch gliding 100-140 Hz) through four formant
    resonators (700/1200/2600/3400 Hz), under a 3 Hz syllable envelope, peak 0.5.

    Speech codecs model exactly this (pitch + formants), so they reproduce its waveform closely and the
    cross-correlation peak sits at the true delay; the gliding pitch keeps the peak unambiguous.
    """
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    pitch = 120.0 + 20.0 * np.sin(2 * np.pi * 1.5 * t)
    pulses = np.diff(np.floor(np.cumsum(pitch / sample_rate)), prepend=0.0)
    wave = signal.lfilter([1.0], [1.0, -0.95], pulses)  # glottal spectral tilt
    for centre, bandwidth in ((700, 110), (1200, 120), (2600, 160), (3400, 200)):
        if centre < sample_rate / 2:
            radius = np.exp(-np.pi * bandwidth / sample_rate)
            angle = 2 * np.pi * centre / sample_rate
            wave = signal.lfilter([1 - radius], [1.0, -2 * radius * np.cos(angle), radius**2], wave)
    wave *= 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t)
    return 0.5 * wave / np.max(np.abs(wave))


@functools.lru_cache(maxsize=512)
def codec_delay(name: str, rate: int, bitrate: int | None, sample_rate: int, max_lag: int) -> int:
    """The delay (samples at ``sample_rate``) of codec ``name`` run at ``rate``/``bitrate``, measured once
    on :func:`speech_like_probe` and cached for the process."""
    probe = speech_like_probe(sample_rate)
    decoded = encode_decode(resample(probe, sample_rate, rate), rate, CODECS[name], bitrate, sample_rate)
    return estimate_delay(probe, decoded, max_lag)


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
        rates = CODECS[name].rates
        if self.sample_rate in rates:
            return self.sample_rate
        above = [r for r in rates if r > self.sample_rate]
        return min(above) if above else max(rates)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        name = self.codecs[rng.integers(len(self.codecs))]
        bitrates = self._bitrates[name]
        bitrate = bitrates[rng.integers(len(bitrates))]
        rate = self.codec_rate(name, rng)
        decoded = encode_decode(resample(x, self.sample_rate, rate), rate, CODECS[name], bitrate,
                                self.sample_rate)
        max_lag = int(round(self.max_delay_ms * self.sample_rate / 1000.0))
        if self.alignment == "per_call":
            return align(x, decoded, max_lag)
        return undelay(decoded, codec_delay(name, rate, bitrate, self.sample_rate, max_lag), x.shape[0])
