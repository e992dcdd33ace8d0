"""Helpers for the io tests: a chirp+tone signal encoded, in code, into every container/codec we read.

Encoding goes through PyAV; the Debian ``ffmpeg`` CLI is used only where PyAV's wheel lacks the encoder
(libvorbis). A format neither can write is skipped with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

SOURCE_RATE = 44100
SOURCE_SECONDS = 3.0


def chirp_tone(seconds: float = SOURCE_SECONDS, rate: int = SOURCE_RATE) -> np.ndarray:
    """A 300->3000 Hz linear chirp plus a 440 Hz tone at -6 dBFS peak: audible in every codec's band."""
    t = np.arange(int(round(seconds * rate))) / rate
    f0, f1 = 300.0, 3000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    return (0.3 * np.sin(phase) + 0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


@dataclass(frozen=True)
class FormatSpec:
    name: str
    suffix: str
    codec: str
    lossless: bool
    encode_rate: int  # the rate the codec runs at (opus 48k, amr 8k)
    video_codec: str | None = None
    cli_codec: str | None = None  # encode with the ffmpeg CLI instead of PyAV
    options: dict | None = None


FORMATS = [
    FormatSpec("wav", ".wav", "pcm_s16le", True, 44100),
    FormatSpec("flac", ".flac", "flac", True, 44100),
    FormatSpec("mp3", ".mp3", "libmp3lame", False, 44100),
    FormatSpec("m4a-aac", ".m4a", "aac", False, 44100),
    FormatSpec("ogg-opus", ".opus", "libopus", False, 48000),
    FormatSpec("ogg-vorbis", ".ogg", "libvorbis", False, 44100, cli_codec="libvorbis"),
    FormatSpec("webm-opus", ".webm", "libopus", False, 48000),
    FormatSpec("amr-nb", ".amr", "libopencore_amrnb", False, 8000, options={"b": "12200"}),
    FormatSpec("mkv-aac", ".mkv", "aac", False, 44100),
    FormatSpec("mp4-video-aac", ".mp4", "aac", False, 44100, video_codec="libx264"),
    FormatSpec("mkv-video-mp3", ".mkv", "libmp3lame", False, 44100, video_codec="mpeg4"),
    FormatSpec("webm-video-opus", ".webm", "libopus", False, 48000, video_codec="libvpx"),
]


def _planar(wave: np.ndarray, channels: int) -> np.ndarray:
    if wave.ndim == 1:
        wave = np.tile(wave[None, :], (channels, 1))
    return np.ascontiguousarray(wave.astype(np.float32))


def encode_with_pyav(
    path: Path,
    wave: np.ndarray,
    rate: int,
    codec: str,
    *,
    encode_rate: int | None = None,
    channels: int = 1,
    video_codec: str | None = None,
    options: dict | None = None,
    video_seconds: float | None = None,
) -> Path:
    """Encode ``wave`` (1-D mono or [channels, T]) at ``rate`` into ``path``; the suffix picks the container.

    ``codec=None`` writes video only (for the no-audio-stream case).
    """
    planar = _planar(wave, channels) if wave is not None else None
    with av.open(str(path), "w") as out:
        vstream = None
        if video_codec:
            vstream = out.add_stream(video_codec, rate=10)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 48, "yuv420p"
        astream = None
        if codec:
            astream = out.add_stream(codec, rate=encode_rate or rate)
            astream.layout = "mono" if planar.shape[0] == 1 else "stereo"
            if options:
                astream.codec_context.options = dict(options)
        if vstream is not None:
            seconds = video_seconds if video_seconds is not None else planar.shape[1] / rate
            for i in range(int(seconds * 10)):
                img = np.full((48, 64, 3), (i * 7) % 255, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode():
                out.mux(packet)
        if astream is not None:
            ctx = astream.codec_context
            resampler = av.AudioResampler(
                format=ctx.format.name, layout=ctx.layout.name, rate=ctx.sample_rate,
                frame_size=ctx.frame_size or None,
            )
            source = av.AudioFrame.from_ndarray(planar, format="fltp", layout=astream.layout.name)
            source.sample_rate = rate
            source.pts = None
            for frame in [*resampler.resample(source), *resampler.resample(None)]:
                frame.pts = None
                for packet in astream.encode(frame):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return path


def encode_with_cli(path: Path, wave: np.ndarray, rate: int, codec: str, encode_rate: int) -> Path:
    """Fallback for encoders PyAV's wheel lacks: write a WAV, let the ffmpeg CLI transcode it."""
    if shutil.which("ffmpeg") is None:
        pytest.skip(f"neither PyAV nor an ffmpeg CLI can encode {codec}")
    wav = path.with_suffix(".src.wav")
    encode_with_pyav(wav, wave, rate, "pcm_s16le")
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", codec,
           "-ar", str(encode_rate), str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wav.unlink()
    if result.returncode != 0:
        pytest.skip(f"ffmpeg CLI cannot encode {codec}: {result.stderr.strip()[:200]}")
    return path


def encode_format(spec: FormatSpec, path: Path, wave: np.ndarray, rate: int) -> Path:
    if spec.cli_codec:
        return encode_with_cli(path, wave, rate, spec.cli_codec, spec.encode_rate)
    try:
        av.codec.Codec(spec.codec, "w")
    except Exception:  # noqa: BLE001 - any failure means "this build lacks the encoder"
        if spec.codec == "libopencore_amrnb":
            return encode_with_cli(path, wave, rate, spec.codec, spec.encode_rate)
        pytest.skip(f"PyAV lacks the {spec.codec} encoder")
    return encode_with_pyav(path, wave, rate, spec.codec, encode_rate=spec.encode_rate,
                            video_codec=spec.video_codec, options=spec.options)


def resample_reference(wave: np.ndarray, rate_in: int, rate_out: int = 16000) -> np.ndarray:
    """An independent reference resampler (scipy's polyphase filter), to check decoded content against."""
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(wave.astype(np.float64), rate_out // g, rate_in // g).astype(np.float32)


def aligned_snr_db(decoded: np.ndarray, reference: np.ndarray, max_lag: int = 2000) -> tuple[float, float]:
    """SNR (dB) of ``decoded`` against ``reference`` after the best lag and a least-squares gain.

    Codecs add delay (AAC priming of 1024 samples at 44.1 kHz is 371.5 samples at 16 kHz, AMR lookahead)
    and small level changes; neither is a decoding error. The lag is found to a fraction of a sample
    (parabolic peak of the cross-correlation) and applied to the reference as a phase ramp, since half a
    sample of misalignment alone caps the SNR near 10 dB at 3 kHz. Returns (snr_db, lag), lag in samples:
    decoded[t] lines up with reference[t - lag].
    """
    decoded = decoded.astype(np.float64)
    reference = reference.astype(np.float64)
    core = reference[max_lag : len(reference) - max_lag]
    corr = np.correlate(decoded[: len(core) + 2 * max_lag], core, mode="valid")
    peak = int(np.argmax(corr))
    frac = 0.0
    if 0 < peak < len(corr) - 1:
        left, mid, right = corr[peak - 1 : peak + 2]
        frac = 0.5 * (left - right) / (left - 2 * mid + right)
    lag = peak - max_lag + frac
    whole = int(np.floor(lag))
    a = decoded[max(whole, 0) :]
    b = reference[max(-whole, 0) :]
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    spectrum = np.fft.rfft(b)
    b = np.fft.irfft(spectrum * np.exp(-2j * np.pi * np.fft.rfftfreq(n) * (lag - whole)), n)
    edge = 800  # codecs fade the first/last frames and the phase ramp wraps at the ends; judge the body
    a, b = a[edge : n - edge], b[edge : n - edge]
    gain = float(a @ b / (b @ b))
    noise = a - gain * b
    return float(10 * np.log10((b @ b) * gain**2 / max(noise @ noise, 1e-20))), float(lag)
