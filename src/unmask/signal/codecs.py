"""Lossy codec round-trips in memory: through PyAV, or Debian's ``ffmpeg`` CLI where PyAV lacks an encoder.

The wave is resampled to a rate the codec runs at, encoded into a container in memory, decoded back at
the input rate, re-aligned to the input and cut to its length (:func:`codec_round_trip`).

Backends. The PyAV 18 wheel (its bundled FFmpeg) has MP3 (libmp3lame), AAC (native), Opus (libopus),
AMR-NB (libopencore_amrnb), G.711 mu/A-law, G.722 and G.726, so those run in-process. It has no GSM
encoder and only FFmpeg's experimental native Vorbis encoder (stereo only, no bitrate control), so GSM
06.10 (libgsm) and Vorbis (libvorbis) go through the ``ffmpeg`` command-line tool, fed and read through
pipes (no temp files). :func:`available_codecs` reports what this machine can run.

Re-alignment: encoders add priming samples and look-ahead (AAC in ADTS keeps its 1024, G.722 and
AMR-NB a few ms; MP3 and Opus delays are trimmed by the decoder), so the delay is measured, not
assumed: the lag that maximises the cross-correlation with the input, searched within
+/- ``max_delay_ms``. A codec's delay does not depend on what it encodes, so by default
(``alignment="calibrated"``) it is measured once per codec, rate and bitrate on a built-in vowel-like
probe and cached: robust where a per-call estimate is not (crops that are mostly silence, strongly
periodic music, or AMR-NB, whose CELP output follows the spectrum more than the waveform), and it
saves the correlation on every call. ``alignment="per_call"`` measures on each input instead.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from dataclasses import dataclass

import av
import numpy as np
from scipy import signal

from unmask.signal.core import SignalError, fit_length
from unmask.signal.resample import resample
from unmask.signal.synth import speech_like_probe


class CodecUnavailableError(SignalError):
    """The codec is unknown, or neither PyAV nor the ffmpeg CLI on this machine has its encoder."""


@dataclass(frozen=True)
class CodecSpec:
    """How to run one codec: container, FFmpeg encoder, the rates it runs at, default bitrates (bit/s),
    and the backend (``"pyav"`` in-process, ``"ffmpeg"`` through the CLI)."""

    container: str
    encoder: str
    rates: tuple[int, ...]
    bitrates: tuple[int | None, ...]
    description: str
    backend: str = "pyav"


#: Inputs shorter than this are zero-padded before encoding (and trimmed back afterwards).
MIN_ENCODE_SECONDS = 0.25

_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

#: Every codec this module knows. Bitrates are typical settings; ``None`` = fixed-rate codec.
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
    "g726": CodecSpec("wav", "adpcm_g726", (8000,), (16000, 24000, 32000, 40000),
                      "G.726 ADPCM, 8 kHz, 16-40 kbit/s"),
    "vorbis": CodecSpec("ogg", "libvorbis", (8000, 11025, 16000, 22050, 32000, 44100, 48000),
                        (16000, 24000, 32000, 64000), "Vorbis (libvorbis, ffmpeg CLI)", backend="ffmpeg"),
    "gsm": CodecSpec("gsm", "libgsm", (8000,), (None,), "GSM 06.10 full rate, 8 kHz, 13 kbit/s (libgsm, "
                     "ffmpeg CLI)", backend="ffmpeg"),
}


def has_pyav_encoder(encoder: str) -> bool:
    """Whether PyAV's FFmpeg has ``encoder``."""
    # av.codecs_available lists codec names (e.g. "g722"), not encoder names ("adpcm_g722"): ask directly.
    try:
        av.Codec(encoder, "w")
    except ValueError:  # av.codec.codec.UnknownCodecError
        return False
    return True


@functools.lru_cache(maxsize=1)
def _cli_encoders() -> frozenset[str]:
    """Encoder names the ``ffmpeg`` CLI on PATH lists (empty when there is none)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        return frozenset()
    listing = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True, check=False)
    names = set()
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "A":  # " A....D libgsm  ..." rows
            names.add(parts[1])
    return frozenset(names)


def codec_available(name: str) -> bool:
    """Whether codec ``name`` (a key of :data:`CODECS`) can run on this machine through its backend."""
    spec = CODECS[name]
    if spec.backend == "ffmpeg":
        return spec.encoder in _cli_encoders()
    return has_pyav_encoder(spec.encoder)


def available_codecs() -> tuple[str, ...]:
    """Names from :data:`CODECS` this machine can run (PyAV encoders, and ffmpeg-CLI ones if installed)."""
    return tuple(name for name in CODECS if codec_available(name))


def require_codec(name: str) -> CodecSpec:
    """The spec of ``name``; :class:`CodecUnavailableError` (naming what to install) if it cannot run."""
    if name not in CODECS:
        raise CodecUnavailableError(f"unknown codec {name!r}; known: {list(CODECS)}")
    spec = CODECS[name]
    if not codec_available(name):
        where = "the ffmpeg CLI on PATH" if spec.backend == "ffmpeg" else "this PyAV build"
        raise CodecUnavailableError(
            f"codec {name!r} needs the {spec.encoder} encoder, which {where} does not have",
            hint="install Debian's ffmpeg (apt-get install ffmpeg)" if spec.backend == "ffmpeg"
            else "install a PyAV/FFmpeg build with that encoder")
    return spec


def encode_decode(x: np.ndarray, rate: int, spec: CodecSpec, bitrate: int | None,
                  out_rate: int) -> np.ndarray:
    """Encode float ``x`` at ``rate`` with ``spec`` in memory and decode it back at ``out_rate`` (float64).

    The result is not aligned or trimmed: it includes whatever delay and padding the codec added.
    """
    # Very short inputs are zero-padded: encoders need whole frames, and a stream of a few packets
    # can fail to decode. The padding lies after the signal, so aligning and trimming remove it.
    x = fit_length(x, max(x.shape[0], int(MIN_ENCODE_SECONDS * rate)))
    if spec.backend == "ffmpeg":
        return _encode_decode_cli(x, rate, spec, bitrate, out_rate)
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


def _run_ffmpeg(args: list[str], data: bytes, what: str) -> bytes:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise CodecUnavailableError(f"{what} needs the ffmpeg CLI, which is not on PATH",
                                    hint="install Debian's ffmpeg (apt-get install ffmpeg)")
    # -bitexact and one thread keep the bytes identical from run to run (determinism given a seed).
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1", *args]
    done = subprocess.run(cmd, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        raise SignalError(f"{what}: ffmpeg failed ({done.stderr.decode(errors='replace').strip()[-300:]})")
    return done.stdout


def _encode_decode_cli(x: np.ndarray, rate: int, spec: CodecSpec, bitrate: int | None,
                       out_rate: int) -> np.ndarray:
    raw = ["-f", "f32le", "-ac", "1"]
    bitrate_args = ["-b:a", str(bitrate)] if bitrate is not None else []
    encoded = _run_ffmpeg([*raw, "-ar", str(rate), "-i", "pipe:0", "-c:a", spec.encoder, *bitrate_args,
                           "-bitexact", "-f", spec.container, "pipe:1"],
                          x.astype("<f4").tobytes(), f"{spec.encoder} encode")
    decoded = _run_ffmpeg(["-f", spec.container, "-i", "pipe:0", *raw, "-ar", str(out_rate), "pipe:1"],
                          encoded, f"{spec.encoder} decode")
    return np.frombuffer(decoded, dtype="<f4").astype(np.float64)


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


@functools.lru_cache(maxsize=512)
def codec_delay(name: str, rate: int, bitrate: int | None, sample_rate: int, max_lag: int) -> int:
    """The delay (samples at ``sample_rate``) of codec ``name`` run at ``rate``/``bitrate``, measured once
    on :func:`~unmask.signal.synth.speech_like_probe` and cached for the process."""
    probe = speech_like_probe(sample_rate)
    decoded = encode_decode(resample(probe, sample_rate, rate), rate, CODECS[name], bitrate, sample_rate)
    return estimate_delay(probe, decoded, max_lag)


def default_codec_rate(name: str, sample_rate: int) -> int:
    """The rate ``name`` runs at for input at ``sample_rate``: that rate if the codec supports it, else the
    nearest supported rate above it, else its highest (8 kHz for AMR-NB/G.711/GSM, 16 kHz for G.722)."""
    rates = CODECS[name].rates
    if sample_rate in rates:
        return sample_rate
    above = [r for r in rates if r > sample_rate]
    return min(above) if above else max(rates)


def codec_round_trip(x: np.ndarray, sample_rate: int, name: str, bitrate: int | None = None, *,
                     rate: int | None = None, alignment: str = "calibrated",
                     max_delay_ms: float = 250.0) -> np.ndarray:
    """``x`` (float, at ``sample_rate``) through codec ``name`` and back: same rate, same length, aligned.

    ``rate`` is the rate the codec runs at (default :func:`default_codec_rate`); the input is resampled to
    it and the decoder output back. ``alignment`` is ``"calibrated"`` or ``"per_call"`` (module docstring).
    """
    spec = require_codec(name)
    rate = default_codec_rate(name, sample_rate) if rate is None else int(rate)
    if rate not in spec.rates:
        raise SignalError(f"codec {name!r} cannot run at {rate} Hz; choose from {list(spec.rates)}")
    if alignment not in ("calibrated", "per_call"):
        raise SignalError(f"alignment must be 'calibrated' or 'per_call', got {alignment!r}")
    x = np.asarray(x, dtype=np.float64)
    decoded = encode_decode(resample(x, sample_rate, rate), rate, spec, bitrate, sample_rate)
    max_lag = int(round(max_delay_ms * sample_rate / 1000.0))
    if alignment == "per_call":
        return align(x, decoded, max_lag)
    return undelay(decoded, codec_delay(name, rate, bitrate, sample_rate, max_lag), x.shape[0])
