"""Decode the audio track of anything FFmpeg reads into float32 mono blocks at a requested rate.

Everything goes through PyAV: the demuxer picks the container, the decoder the codec, and swresample
(``av.AudioResampler``) mixes down to mono and resamples. Blocks come out one decoded packet at a time,
so memory stays bounded whatever the file length.

Time origin: sample 0 is the first decoded sample of the audio stream (its ``start_time``), whatever the
container says about a video track or an encoder delay.

Down-mix: swresample's matrix normalised so that no output exceeds full scale (``rematrix_maxval=1``):
stereo becomes (L + R) / 2; surround layouts use FFmpeg's standard weights, scaled down the same way.

What counts as damage, and what happens (``strict=True`` turns every warning here into a MediaError):

* The file must open and show an audio stream. A destroyed header, a text file, an image: MediaError.
* A packet the decoder rejects mid-stream is skipped. Where frame timestamps then jump ahead (a skipped
  packet, or a decoder that silently dropped a damaged frame), the gap is filled with silence so the
  timeline stays aligned with the file's clock. One :class:`MediaWarning` at the end says how many
  packets and seconds.
* A demuxer error mid-stream (garbage it cannot resync past) ends the stream there; what came before is
  kept, with a MediaWarning.
* Decoding that ends well short of the duration the header announced (a truncated file) is kept, with a
  MediaWarning naming both durations.
* Non-finite samples (possible in float WAV) become 0, with a MediaWarning.
* Nothing decodable at all: MediaError.

What cannot be detected, by the nature of the formats: noise written over PCM WAV data decodes as noise;
a truncated WAV or Ogg file announces the shortened length (FFmpeg derives it from the file size or the
last page), so it decodes shorter without a warning; MP3/ADTS/AMR have no global header, so garbage at the
start is skipped by the demuxer's resync. An MP4/M4A whose index (moov) is lost, e.g. a truncated file
written index-last, cannot be decoded at all and raises.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from unmask.errors import MediaError
from unmask.io.limits import DEFAULT_LIMITS, MediaLimits

# Containers whose packets carry sample-exact timestamps after a seek (sample counts, an index). Others
# seek by a bitrate estimate (mp3, ADTS AAC, AMR) or round timestamps to milliseconds (Matroska/WebM), so
# a slice there is decoded from the start and the head discarded instead. Ogg is among the others: after
# some seeks a Vorbis stream's first timestamps came out a few hundred samples early (163 at 16 kHz in
# tests/io/test_load_formats.py), so a slice was not the same span of the whole file.
SEEK_ACCURATE_FORMATS = frozenset({"wav", "w64", "aiff", "flac", "mov,mp4,m4a,3gp,3g2,mj2"})
# Seek this long before the requested start so decoders with inter-frame state (overlap-add, bit
# reservoirs, Opus pre-roll) have settled by the first kept sample.
SEEK_PREROLL_S = 0.5
# Shorter offsets are cheaper to decode than to seek.
SEEK_MIN_START_S = 1.0
# Timestamp jumps shorter than this are rounding (Matroska stores milliseconds), not lost audio.
GAP_TOLERANCE_S = 0.005

# How far decoding may end before the header's duration before the file counts as truncated.
TRUNCATION_TOLERANCE_S = 0.5
TRUNCATION_TOLERANCE_FRACTION = 0.05


_LIMIT_HINT = "if the file is genuine, pass MediaLimits with that limit raised (None switches it off)"


class MediaWarning(UserWarning):
    """Audio was decoded, but part of the input was damaged and was skipped or silenced."""


@dataclass
class MediaSource:
    """An open container and the audio stream we decode from it."""

    path: Path
    container: av.container.InputContainer
    stream: av.audio.stream.AudioStream
    duration_s: float | None  # what the header announces, None when it does not say
    origin_s: float  # start_time of the audio stream

    def close(self) -> None:
        self.container.close()


def check_file(path: str | Path, limits: MediaLimits = DEFAULT_LIMITS) -> Path:
    """Fail early, with a specific reason, on what is not a readable non-empty file within the size limit."""
    path = Path(path)
    try:
        status = path.stat()
    except OSError as exc:
        raise _stat_error(path, exc) from exc
    if stat.S_ISDIR(status.st_mode):
        raise MediaError("is a directory, not a media file", path=path,
                         hint="pass a file, or a manifest listing the files")
    if not stat.S_ISREG(status.st_mode):
        # A FIFO or a device would block or never end when opened; nothing here reads streams.
        raise MediaError(f"not a regular file (a {_file_kind(status.st_mode)})", path=path,
                         hint="copy the recording into a file first")
    size = status.st_size
    if size == 0:
        raise MediaError("empty file (0 bytes)", path=path, hint="the file was not written completely")
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise MediaError(
            f"file is {size / 2**20:.0f} MiB, over the {limits.max_bytes / 2**20:.0f} MiB limit", path=path,
            hint="raise MediaLimits.max_bytes, or cut the file into parts",
        )
    if not os.access(path, os.R_OK):
        raise MediaError("permission denied", path=path, hint="check the file's read permission")
    return path


def _stat_error(path: Path, exc: OSError) -> MediaError:
    """Why ``path`` cannot even be looked at, in words: missing, a dangling or looping link, permissions."""
    if isinstance(exc, FileNotFoundError):
        try:
            target = os.readlink(path)
        except OSError:
            target = None
        if target is not None:
            return MediaError(f"broken symbolic link (it points to {target}, which does not exist)",
                              path=path, hint="the file it pointed to was moved or deleted; fix the link")
        return MediaError("file not found", path=path, hint="check the path and that the file was not moved")
    if exc.errno == errno.ELOOP:
        return MediaError("symbolic link loop (the link leads back to itself)", path=path,
                          hint="fix or remove the link")
    if isinstance(exc, PermissionError):
        return MediaError("permission denied (the file or a folder on its path cannot be read)", path=path,
                          hint="check the read permission of the file and the folders above it")
    return MediaError(f"cannot be read ({_describe(exc)})", path=path, hint="check the path and the disk")


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"))
    return next((name for test, name in kinds if test(mode)), "special file")


def open_source(path: Path) -> MediaSource:
    """Open ``path`` and pick its first audio stream; every failure becomes a MediaError."""
    try:
        # Tags are text from the file: undecodable bytes in a title must not make the audio unreadable.
        container = av.open(str(path), mode="r", metadata_errors="replace")
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise MediaError("not a recognised media file, or its header/index is damaged or missing", path=path,
                         hint="check that this is audio or video and that it was copied completely") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot be opened as media ({_describe(exc)})", path=path) from exc
    except (ValueError, TypeError, LookupError) as exc:  # PyAV's own parsing of what FFmpeg returned
        raise MediaError(f"cannot be opened as media ({type(exc).__name__}: {exc})", path=path,
                         hint="the container's header is damaged") from exc
    try:
        return _pick_audio(path, container)
    except BaseException:
        container.close()
        raise


def _pick_audio(path: Path, container: av.container.InputContainer) -> MediaSource:
    # FFmpeg's "tty" demuxer takes any .txt/.ans file as ANSI art; that is text, not media.
    if container.format.name == "tty" or not container.streams:
        raise MediaError("not a media file (no audio or video streams found)", path=path,
                         hint="expected audio or video, e.g. wav, flac, mp3, m4a, ogg, webm, mp4")
    if container.format.name == "flac" and not _starts_with(path, (b"fLaC", b"ID3")):
        # FFmpeg still finds raw FLAC frames, but without STREAMINFO nothing says what the file should hold.
        raise MediaError("FLAC header (STREAMINFO) is missing or damaged", path=path,
                         hint="the start of the file is corrupt; re-encode or re-download it")
    if not container.streams.audio:
        kinds = ", ".join(sorted({s.type for s in container.streams}))
        raise MediaError(f"no audio stream (the file has only: {kinds})", path=path,
                         hint="this looks like a video without sound; nothing to analyse")
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # FFmpeg sees a stream but has no decoder (e.g. a WAV of 0-bit samples)
        raise MediaError("the audio codec is unknown or cannot be decoded", path=path,
                         hint="re-encode the file to a common format (wav, flac, mp3, ...)")
    time_base = stream.time_base
    origin_s = float(stream.start_time * time_base) if stream.start_time is not None and time_base else 0.0
    if stream.duration is not None and time_base:
        duration_s: float | None = float(stream.duration * time_base)
    elif container.duration is not None:
        duration_s = container.duration / av.time_base
    else:
        duration_s = None
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
        duration_s = None
    return MediaSource(path, container, stream, duration_s, origin_s)


def _starts_with(path: Path, magics: tuple[bytes, ...]) -> bool:
    with path.open("rb") as handle:
        head = handle.read(max(len(m) for m in magics))
    return head.startswith(magics)


def _describe(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


@dataclass
class _Damage:
    """What went wrong while decoding, reported once at the end (or at once when strict)."""

    bad_packets: int = 0
    gaps: int = 0
    gap_seconds: float = 0.0
    demux_error: str | None = None
    demux_error_at_s: float = 0.0
    non_finite: int = 0
    truncated: tuple[float, float] | None = None  # (decoded s, announced s)

    def describe(self) -> str:
        parts = []
        if self.bad_packets:
            parts.append(f"{self.bad_packets} undecodable packet(s) skipped")
        if self.gaps:
            parts.append(f"{self.gaps} timestamp gap(s) filled with {self.gap_seconds:.2f} s of silence")
        if self.demux_error:
            parts.append(f"stream unreadable after {self.demux_error_at_s:.2f} s ({self.demux_error})")
        if self.truncated:
            decoded, announced = self.truncated
            parts.append(f"decoded {decoded:.2f} s of the {announced:.2f} s the header announces (truncated)")
        if self.non_finite:
            parts.append(f"{self.non_finite} non-finite sample(s) set to 0")
        return "; ".join(parts)

    def __bool__(self) -> bool:
        return bool(self.bad_packets or self.gaps or self.demux_error or self.truncated or self.non_finite)


class _MonoDecoder:
    """Decode one source into float32 mono blocks covering samples [start, end) of the output timeline."""

    def __init__(self, source: MediaSource, sample_rate: int, start: int, end: int | None,
                 limits: MediaLimits, strict: bool, seeked: bool) -> None:
        self.source = source
        self.rate = sample_rate
        self.start, self.end = start, end
        self.max_kept = None if limits.max_duration_s is None else int(limits.max_duration_s * sample_rate)
        self.limits = limits
        self.strict = strict
        self.seeked = seeked
        self.position: int | None = None if seeked else 0  # output index of the next resampled sample
        self.kept = 0
        self.stopped_early = False
        self.damage = _Damage()
        self._resampler: av.AudioResampler | None = None
        self._resampler_key: tuple | None = None
        self._expected_s: float | None = None  # the sample clock: where the audio decoded so far ends
        self._pending_gap = False  # the last frame ran ahead of the sample clock (_check_gap)

    # -- the loop ---------------------------------------------------------------------------------------
    def blocks(self) -> Iterator[np.ndarray]:
        stream = self.source.stream
        packets = self.source.container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                self.damage.demux_error = _describe(exc)
                self.damage.demux_error_at_s = (self.position or 0) / self.rate
                self._maybe_raise()
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self._count_bad_packet()
                continue
            for frame in frames:
                yield from self._take(self._resample(frame))
                if self._done():
                    return
        yield from self._take(self._flush())
        self._check_truncation()

    def _check_gap(self, frame_s: float, out: list[np.ndarray]) -> None:
        """Fill lost audio with silence, judged against the sample clock (where the audio so far ends).

        A frame whose timestamp runs ahead of the clock is only a gap if the next frame is still ahead:
        Vorbis stamps the frame after a block-size switch up to (long - short) / 4 samples early or late
        and takes it back on the next frame (filling that jitter added 1.3 s of silence to a 20-s Ogg
        Vorbis file with transients). So the silence of a real gap lands one frame late, which leaves the
        audio after it aligned with the file's clock again."""
        if self._expected_s is None or self.position is None:
            return
        ahead = frame_s - self._expected_s
        if self._pending_gap:
            self._pending_gap = False
            if ahead > GAP_TOLERANCE_S:  # still ahead: audio was lost
                self.damage.gaps += 1
                self.damage.gap_seconds += ahead
                self._maybe_raise()
                out.extend(self._flush())  # the silence lands after the audio already decoded
                out.append(np.zeros(round(ahead * self.rate), dtype=np.float32))
                self._expected_s += ahead
        elif ahead > GAP_TOLERANCE_S:
            self._pending_gap = True  # decided on the next frame

    def _done(self) -> bool:
        if self.end is not None and self.position is not None and self.position >= self.end:
            self.stopped_early = True
            return True
        return False

    # -- resampling ---------------------------------------------------------------------------------------
    def _resample(self, frame: av.AudioFrame) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        frame_s = self._time_of(frame)
        if frame_s is not None:
            self._check_gap(frame_s, out)
            self._expected_s = (frame_s if self._expected_s is None else self._expected_s) + (
                frame.samples / frame.sample_rate)
        if self.position is None:
            frame = self._align_after_seek(frame)
            if frame is None:
                return out
        scale = _PASSTHROUGH_SCALE.get(frame.format.name)
        if scale is not None and frame.sample_rate == self.rate and len(frame.layout.channels) == 1:
            # Already mono at the output rate: swresample would only convert the sample format, which
            # is this scaling (FFmpeg's int-to-float divides by 2**15 or 2**31); numpy does it ~3x faster.
            out.extend(self._flush())
            samples = frame.to_ndarray().reshape(-1)
            out.append(samples if scale == 1.0 else samples.astype(np.float32) * np.float32(scale))
            return out
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key != self._resampler_key:
            # Mid-stream format changes happen (mp3 rate switches, AAC channel changes): start a new resampler
            # after draining the old one, rather than letting PyAV refuse the frame. The header was checked
            # against the limits, but a frame can claim anything: check again before building one for it.
            problem = self.limits.stream_problem(frame.sample_rate, len(frame.layout.channels))
            if problem:
                raise MediaError(f"a frame mid-stream is refused: {problem}", path=self.source.path,
                                 hint=_LIMIT_HINT)
            out.extend(self._flush())
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate,
                                                options={"rematrix_maxval": "1.0"})
            self._resampler_key = key
        out.extend(f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame))
        return out

    def _flush(self) -> list[np.ndarray]:
        if self._resampler is None:
            return []
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(None)]
        self._resampler, self._resampler_key = None, None
        return out

    def _time_of(self, frame: av.AudioFrame) -> float | None:
        time_base = frame.time_base or self.source.stream.time_base
        if frame.pts is None or time_base is None:
            return None
        # int * numerator / denominator: Python's int division rounds correctly, so this equals
        # float(pts * time_base) without building a Fraction for every frame.
        return frame.pts * time_base.numerator / time_base.denominator - self.source.origin_s

    def _align_after_seek(self, frame: av.AudioFrame) -> av.AudioFrame | None:
        """Place the first frame after a seek on the output timeline, exactly.

        A fresh resampler puts its first output sample on its first input sample, so the input must start on
        a sample the input and output grids share (every in_rate/gcd input samples); otherwise the whole
        slice would be off by a fraction of a sample. The head before that point is cut from the frame.
        Returns None when the whole frame lies before it (the next frame is tried).
        """
        time_base = frame.time_base or self.source.stream.time_base
        if frame.pts is None or time_base is None:
            raise _NoTimestamps
        in_rate = frame.sample_rate
        index = (Fraction(frame.pts) * Fraction(time_base) - Fraction(self.source.origin_s)) * in_rate
        if index.denominator != 1:
            raise _NoTimestamps
        common = math.gcd(in_rate, self.rate)
        in_step, out_step = in_rate // common, self.rate // common
        steps = -(-int(index) // in_step)  # ceil
        cut = steps * in_step - int(index)
        if cut >= frame.samples:
            return None
        if cut:
            try:
                frame = _drop_head(frame, cut)
            except (ValueError, TypeError, av.error.FFmpegError) as exc:  # a sample format numpy cannot hold
                raise _NoTimestamps from exc
        self.position = steps * out_step
        return frame

    # -- keeping the requested span -------------------------------------------------------------------------
    def _take(self, blocks: list[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            begin = self.position
            self.position += len(block)
            lo = max(0, self.start - begin)
            hi = len(block) if self.end is None else min(len(block), self.end - begin)
            if hi <= lo:
                continue
            kept = self._clean(block if (lo, hi) == (0, len(block)) else block[lo:hi])
            self.kept += len(kept)
            if self.max_kept is not None and self.kept > self.max_kept:
                raise MediaError(
                    f"audio runs past the {self.limits.max_duration_s:.0f} s duration limit "
                    "(the header understated it or did not say)", path=self.source.path,
                    hint="raise MediaLimits.max_duration_s, or read a slice with start_s/duration_s",
                )
            yield kept

    def _clean(self, block: np.ndarray) -> np.ndarray:
        # One reduction instead of a mask per block: a NaN or inf anywhere makes the sum non-finite
        # (so does an overflow, which the exact check below then finds harmless).
        if not np.isfinite(block.sum(dtype=np.float64)):
            finite = np.isfinite(block)
            if not finite.all():
                self.damage.non_finite += int(block.size - finite.sum())
                self._maybe_raise()
                block = np.where(finite, block, 0.0)
        # Lossy decoders overshoot full scale a little; the contract is [-1, 1].
        if block.dtype == np.float32 and block.flags.writeable and block.flags.owndata:
            return np.clip(block, -1.0, 1.0, out=block)
        return np.clip(block, -1.0, 1.0, dtype=np.float32)

    def _count_bad_packet(self) -> None:
        # The audio it held is restored as silence by the timestamp-gap check on the next good frame.
        self.damage.bad_packets += 1
        self._maybe_raise()

    # -- damage accounting ----------------------------------------------------------------------------------
    def _check_truncation(self) -> None:
        announced = self.source.duration_s
        if announced is None or self.position is None or self.damage.demux_error:
            return
        decoded = self.position / self.rate
        tolerance = max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_FRACTION * announced)
        if announced - decoded > tolerance:
            self.damage.truncated = (decoded, announced)
            self._maybe_raise()

    def _maybe_raise(self) -> None:
        if self.strict and self.damage:
            raise MediaError(f"corrupt stream: {self.damage.describe()}", path=self.source.path,
                             hint="re-encode or re-download the file; strict=False decodes what it can")

    def report(self) -> None:
        """After the loop: warn about damage, or fail when nothing at all was decoded."""
        if self.kept == 0:
            if self.damage:
                raise MediaError(f"corrupt stream, no audio could be decoded: {self.damage.describe()}",
                                 path=self.source.path, hint="re-encode or re-download the file")
            if self.start > 0 and self.position is not None and self.position <= self.start:
                raise MediaError(
                    f"start {self.start / self.rate:.2f} s is at or past the end of the audio "
                    f"({self.position / self.rate:.2f} s)", path=self.source.path,
                    hint="pick a start inside the file",
                )
            raise MediaError("no audio samples (the audio stream is empty)", path=self.source.path,
                             hint="the file holds an audio track with zero length")
        if self.damage:
            warnings.warn(MediaWarning(f"{self.source.path}: {self.damage.describe()}; "
                                       "kept what could be decoded"), stacklevel=4)


def _drop_head(frame: av.AudioFrame, samples: int) -> av.AudioFrame:
    """A copy of ``frame`` without its first ``samples`` samples."""
    data = frame.to_ndarray()
    # Planar formats are [channels, samples]; packed ones interleave channels in one row.
    width = 1 if frame.format.is_planar else len(frame.layout.channels)
    trimmed = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, samples * width :]),
                                         format=frame.format.name, layout=frame.layout.name)
    trimmed.sample_rate = frame.sample_rate
    return trimmed


class _NoTimestamps(Exception):
    """Frames after a seek carry no timestamps, so the kept span cannot be placed; decode from the start."""


# Sample formats whose conversion to float32 is a plain scaling (packed or planar: one channel either way).
_PASSTHROUGH_SCALE = {
    "flt": 1.0, "fltp": 1.0, "s16": 2.0**-15, "s16p": 2.0**-15, "s32": 2.0**-31, "s32p": 2.0**-31,
}  # fmt: skip


def decode_mono(
    path: str | Path,
    sample_rate: int = 16000,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    limits: MediaLimits | None = None,
    strict: bool = False,
) -> Iterator[np.ndarray]:
    """Yield float32 mono blocks (1-D, in [-1, 1], variable length) of ``path`` resampled to ``sample_rate``.

    Only ``[start_s, start_s + duration_s)`` is yielded. Raises MediaError (see the module docstring) and
    emits MediaWarning for damage it decoded around; no av/FFmpeg exception escapes.
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    _check_arguments(sample_rate, start_s, duration_s)
    path = check_file(path, limits)
    start = round(start_s * sample_rate)
    end = None if duration_s is None else start + max(1, round(duration_s * sample_rate))
    source = open_source(path)
    try:
        _check_header(source, start_s, duration_s, limits)
        seeked = _try_seek(source, start_s)
        if seeked is None:  # the seek failed half-way: start again from a clean container
            source.close()
            source = open_source(path)
            seeked = False
        decoder = _MonoDecoder(source, sample_rate, start, end, limits, strict, seeked)
        try:
            yield from decoder.blocks()
        except _NoTimestamps:  # raised before any block was yielded
            source.close()
            source = open_source(path)
            decoder = _MonoDecoder(source, sample_rate, start, end, limits, strict, seeked=False)
            yield from decoder.blocks()
        decoder.report()
    except av.error.FFmpegError as exc:
        raise MediaError(f"decoding failed ({_describe(exc)})", path=path,
                         hint="the file may be corrupt; try re-encoding it") from exc
    finally:
        source.close()


def _check_arguments(sample_rate: int, start_s: float, duration_s: float | None) -> None:
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if not math.isfinite(start_s) or start_s < 0:
        raise ValueError(f"start_s must be >= 0, got {start_s!r}")
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s <= 0):
        raise ValueError(f"duration_s must be > 0 or None, got {duration_s!r}")


def _check_header(source: MediaSource, start_s: float, duration_s: float | None, limits: MediaLimits) -> None:
    context = source.stream.codec_context
    problem = limits.stream_problem(context.sample_rate, context.channels)
    if problem:
        raise MediaError(problem, path=source.path, hint=_LIMIT_HINT)
    announced = source.duration_s
    if announced is None:
        return
    # A header can overstate a little (AMR estimates from the bitrate); only refuse starts clearly past it.
    if start_s > announced + max(TRUNCATION_TOLERANCE_S, TRUNCATION_TOLERANCE_FRACTION * announced):
        raise MediaError(f"start {start_s:.2f} s is past the end of the audio ({announced:.2f} s)",
                         path=source.path, hint="pick a start inside the file")
    if limits.max_duration_s is None:
        return
    span = announced - start_s if duration_s is None else min(duration_s, announced - start_s)
    if span > limits.max_duration_s:
        raise MediaError(
            f"audio is {span:.0f} s long, over the {limits.max_duration_s:.0f} s duration limit",
            path=source.path,
            hint="raise MediaLimits.max_duration_s, stream it with iter_windows, or read a slice",
        )


def _try_seek(source: MediaSource, start_s: float) -> bool | None:
    """Seek a little before ``start_s`` where the container allows it: True if seeked, None if it failed."""
    stream = source.stream
    if (start_s < SEEK_MIN_START_S or stream.time_base is None
            or source.container.format.name not in SEEK_ACCURATE_FORMATS):
        return False
    target = int((start_s - SEEK_PREROLL_S + source.origin_s) / stream.time_base)
    try:
        source.container.seek(target, stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        return None
    return True
