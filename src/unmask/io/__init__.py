"""Media I/O: decode any container/codec through PyAV into float32 mono at a requested rate.

* :func:`load_audio` decodes a file (or a slice of it) into one 1-D float32 array in [-1, 1];
  :func:`probe_audio` reads only the header; :func:`save_audio` writes wav/flac atomically.
* :func:`iter_windows` / :func:`iter_chunks` stream long files with bounded memory;
  :func:`array_windows` cuts an in-memory waveform with the same policy.
* :class:`MediaLimits` caps duration and size; every failure is a :class:`unmask.errors.MediaError` naming the
  file, the reason and what to do; damage decoded around is reported as a :class:`MediaWarning`.
"""

from unmask.io.audio import AudioInfo, load_audio, probe_audio, save_audio
from unmask.io.decode import MediaWarning, decode_mono
from unmask.io.limits import DEFAULT_LIMITS, NO_LIMITS, MediaLimits
from unmask.io.stream import AudioWindow, array_windows, iter_chunks, iter_windows

__all__ = [
    "DEFAULT_LIMITS",
    "NO_LIMITS",
    "AudioInfo",
    "AudioWindow",
    "MediaLimits",
    "MediaWarning",
    "decode_mono",
    "iter_chunks",
    "array_windows",
    "iter_windows",
    "load_audio",
    "probe_audio",
    "save_audio",
]
