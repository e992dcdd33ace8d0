"""Stream long files as fixed-length chunks or overlapping windows, without loading them whole.

Decoding runs packet by packet (:func:`unmask.io.decode.decode_mono`); a buffer of about one window plus one
decoded block is all that is held, so memory does not grow with the file length.

Window tail policy (what a detector scoring a timeline needs: every sample covered, fixed length, no
duplicates):

* Windows start at 0, hop, 2*hop, ... while they fit entirely in the audio.
* If samples remain after the last such window, one more window is emitted, shifted back so that it ends
  exactly at the end of the audio (start = duration - window). It overlaps its predecessor more than
  ``hop`` does, carries its true start/end, and is never zero-padded (padding would feed silence to the
  detector). It is not emitted when the regular windows already end at the end of the audio.
* Audio shorter than one window gives exactly one window, [0, duration), with the real (shorter) length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unmask.io.decode import decode_mono
from unmask.io.limits import MediaLimits


@dataclass(frozen=True)
class AudioWindow:
    """A window of float32 mono samples and where it lies in the file, in seconds."""

    start_s: float
    end_s: float
    samples: np.ndarray


class _SampleBuffer:
    """A window onto the decoded stream, addressed by absolute sample index.

    Discarding only moves an offset; the kept samples move to the front (or the array grows) only when an
    append runs out of room, so with a capacity of twice what is kept each sample is copied about once.
    """

    def __init__(self, capacity: int) -> None:
        self._data = np.empty(max(capacity, 1), dtype=np.float32)
        self._lo = 0  # array index of the first kept sample
        self._hi = 0  # array index one past the last kept sample
        self.first = 0  # absolute index of the first kept sample

    @property
    def end(self) -> int:
        """Absolute index one past the last buffered sample."""
        return self.first + self._hi - self._lo

    def append(self, block: np.ndarray) -> None:
        if self._hi + len(block) > len(self._data):
            kept = self._hi - self._lo
            data = self._data
            if kept + len(block) > len(data):
                data = np.empty(2 * (kept + len(block)), dtype=np.float32)
            data[:kept] = self._data[self._lo : self._hi]
            self._data, self._lo, self._hi = data, 0, kept
        self._data[self._hi : self._hi + len(block)] = block
        self._hi += len(block)

    def discard_before(self, index: int) -> None:
        drop = min(max(0, index - self.first), self._hi - self._lo)
        self._lo += drop
        self.first += drop

    def copy(self, start: int, stop: int) -> np.ndarray:
        if start < self.first or stop > self.end:
            raise IndexError(f"[{start}, {stop}) is outside the buffer [{self.first}, {self.end})")
        offset = self._lo - self.first
        return self._data[start + offset : stop + offset].copy()


def iter_chunks(
    path: str | Path,
    sample_rate: int = 16000,
    chunk_s: float = 10.0,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    limits: MediaLimits | None = None,
    strict: bool = False,
) -> Iterator[np.ndarray]:
    """Yield consecutive, non-overlapping float32 mono chunks of ``chunk_s`` (the last one may be shorter).

    Concatenated, they are exactly what :func:`unmask.io.load_audio` returns for the same arguments
    (``start_s``/``duration_s`` select a slice, as there).
    """
    size = _samples(chunk_s, sample_rate, "chunk_s")
    buffer = _SampleBuffer(2 * size)
    emitted = 0
    for block in decode_mono(path, sample_rate, start_s=start_s, duration_s=duration_s, limits=limits,
                             strict=strict):
        buffer.append(block)
        while buffer.end - emitted >= size:
            yield buffer.copy(emitted, emitted + size)
            emitted += size
            buffer.discard_before(emitted)
    if buffer.end > emitted:
        yield buffer.copy(emitted, buffer.end)


def iter_windows(
    path: str | Path,
    window_s: float,
    hop_s: float,
    sample_rate: int = 16000,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    limits: MediaLimits | None = None,
    strict: bool = False,
) -> Iterator[AudioWindow]:
    """Yield fixed-length :class:`AudioWindow` s every ``hop_s`` across ``path``; see the module tail policy.

    ``hop_s`` must be in (0, window_s] so that every sample is covered. ``start_s``/``duration_s`` select
    a slice of the file, as in :func:`unmask.io.load_audio`; window times then count from the slice's
    start. Errors are those of :func:`unmask.io.load_audio`; a limit or damage found mid-file raises after
    the windows before it.
    """
    window = _samples(window_s, sample_rate, "window_s")
    hop = _samples(hop_s, sample_rate, "hop_s")
    if hop > window:
        raise ValueError(f"hop_s ({hop_s}) must not exceed window_s ({window_s}): samples would be skipped")
    buffer = _SampleBuffer(2 * window)
    next_start = 0
    covered = 0  # one past the last sample any emitted window covered
    for block in decode_mono(path, sample_rate, start_s=start_s, duration_s=duration_s, limits=limits,
                             strict=strict):
        buffer.append(block)
        while next_start + window <= buffer.end:
            yield _window(buffer, next_start, next_start + window, sample_rate)
            covered = next_start + window
            next_start += hop
        # Keep what the next regular window needs, and the last `window` samples for a shifted tail window.
        buffer.discard_before(min(next_start, buffer.end - window))
    total = buffer.end
    if covered < total:
        yield _window(buffer, max(0, total - window), total, sample_rate)


def array_windows(
    wave: np.ndarray, window_s: float, hop_s: float, sample_rate: int = 16000
) -> Iterator[AudioWindow]:
    """:func:`iter_windows` for a waveform already in memory: the same windows and tail policy."""
    window = _samples(window_s, sample_rate, "window_s")
    hop = _samples(hop_s, sample_rate, "hop_s")
    if hop > window:
        raise ValueError(f"hop_s ({hop_s}) must not exceed window_s ({window_s}): samples would be skipped")
    total = len(wave)
    covered = 0
    for start in range(0, total - window + 1, hop):
        covered = start + window
        yield AudioWindow(start / sample_rate, covered / sample_rate, wave[start:covered])
    if covered < total:
        start = max(0, total - window)
        yield AudioWindow(start / sample_rate, total / sample_rate, wave[start:total])


def _window(buffer: _SampleBuffer, start: int, stop: int, sample_rate: int) -> AudioWindow:
    return AudioWindow(start / sample_rate, stop / sample_rate, buffer.copy(start, stop))


def _samples(seconds: float, sample_rate: int, name: str) -> int:
    count = round(seconds * sample_rate)
    if count <= 0:
        raise ValueError(f"{name} must be at least one sample at {sample_rate} Hz, got {seconds!r}")
    return count
