"""Fuzz the decode entry point: arbitrary bytes, under any of the media extensions, through load_audio.

Contract under test (``unmask.io.decode``): every input either decodes to a float32 mono array in [-1, 1]
with finite samples, or raises ``MediaError``. Any other exception, a non-finite or out-of-range sample, or
a decode over the limits is a crash. The first byte picks the file extension (the demuxer is chosen from the
content, but a wrong extension must not matter); the rest is the file.

    .venv/bin/python fuzz/fuzz_decode.py [CORPUS_DIR ...] -max_total_time=60 -timeout=10
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import quiet_native_logs, run, scratch_file  # noqa: E402

SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm", ".amr", ".mkv", ".mp4", ".aiff",
            ".caf", ".txt", "")
# Small limits keep each run fast; the limits themselves are part of what is checked.
MAX_SECONDS = 30.0


def one_input(data: bytes) -> None:
    import numpy as np

    from unmask.errors import MediaError
    from unmask.io import MediaLimits, load_audio

    if not data:
        return
    suffix = SUFFIXES[data[0] % len(SUFFIXES)]
    path = scratch_file(f"input{suffix}", data[1:])
    limits = MediaLimits(max_duration_s=MAX_SECONDS, max_bytes=16 * 2**20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MediaWarning: damage decoded around, which is allowed
        try:
            wave = load_audio(path, 16000, limits=limits)
        except MediaError:
            return
    assert wave.dtype == np.float32 and wave.ndim == 1 and wave.size > 0, (wave.dtype, wave.shape)
    assert np.isfinite(wave).all(), "non-finite samples escaped"
    assert float(np.abs(wave).max()) <= 1.0, "samples outside [-1, 1]"
    assert wave.size <= MAX_SECONDS * 16000 + 16000, f"{wave.size} samples: over the duration limit"


if __name__ == "__main__":
    quiet_native_logs()
    run(one_input, ("unmask.io",))
