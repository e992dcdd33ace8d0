"""Whole-file audio: probe a header, load a file (or a slice) as float32 mono, save wav/flac atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from unmask._fs import atomic_path
from unmask.errors import MediaError
from unmask.io.decode import check_file, decode_mono, open_source
from unmask.io.limits import MediaLimits

SAVE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


@dataclass(frozen=True)
class AudioInfo:
    """What the container header says about the first audio stream (duration is NaN when it does not say)."""

    path: str
    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str


def probe_audio(path: str | Path, *, limits: MediaLimits | None = None) -> AudioInfo:
    """Read the container header of ``path`` and describe its first audio stream, without decoding.

    Raises MediaError for a missing, empty, non-media or audio-less file. The size limit applies
    (off by default here: probing is cheap); the duration limit does not, since nothing is decoded.
    """
    path = check_file(path, limits or MediaLimits(max_duration_s=None, max_bytes=None))
    source = open_source(path)
    try:
        stream = source.stream
        duration = source.duration_s if source.duration_s is not None else float("nan")
        return AudioInfo(str(path), duration, stream.rate, stream.channels, stream.codec_context.name,
                         source.container.format.name)
    finally:
        source.close()


def load_audio(
    path: str | Path,
    sample_rate: int = 16000,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    limits: MediaLimits | None = None,
    strict: bool = False,
) -> np.ndarray:
    """Decode ``path`` into a 1-D float32 mono array in [-1, 1] at ``sample_rate``.

    Any container/codec FFmpeg reads works (wav, flac, mp3, m4a/aac, ogg/opus, ogg/vorbis, webm, amr, mkv,
    the audio track of mp4/mkv/webm videos). ``start_s``/``duration_s`` select a slice (where the container
    indexes exact timestamps the decoder seeks, otherwise it decodes and discards the head); a slice that runs
    past the end is returned shorter. ``limits`` defaults to :class:`MediaLimits` (4 h, 2 GiB).

    Raises MediaError (missing, directory, not media, no audio stream, no samples, over a limit, corrupt
    beyond use). Damage that could be decoded around is reported with a ``MediaWarning`` (``strict=True``
    raises instead); see :mod:`unmask.io.decode` for the policy.
    """
    blocks = list(decode_mono(path, sample_rate, start_s=start_s, duration_s=duration_s, limits=limits,
                              strict=strict))
    return np.concatenate(blocks) if len(blocks) != 1 else blocks[0]


def save_audio(path: str | Path, wave: np.ndarray, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write ``wave`` (1-D mono, or 2-D ``[frames, channels]``) to a .wav or .flac file, atomically.

    The data goes to a temporary file next to ``path`` that is renamed into place, so a reader never sees a
    half-written file. ``subtype`` is a soundfile subtype (default: 16-bit PCM; "FLOAT" keeps float WAV).
    """
    path = Path(path)
    file_format = SAVE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise MediaError(f"cannot save as '{path.suffix}'", path=path, hint="use a .wav or .flac file name")
    wave = np.asarray(wave)
    if wave.ndim not in (1, 2) or wave.shape[0] == 0:
        raise ValueError(f"wave must be 1-D or [frames, channels] with at least one frame, got {wave.shape}")
    if not np.isfinite(wave).all():
        raise ValueError("wave holds NaN or infinite samples")
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    with atomic_path(path) as tmp_name:
        sf.write(tmp_name, wave, sample_rate, format=file_format, subtype=subtype)
    return path
