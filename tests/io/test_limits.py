"""Resource bounds: duration, size, sample rate and channels are checked against the header before anything
is allocated for them, and again while decoding (headers lie)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from corrupt_corpus import aiff_bytes

from unmask.errors import MediaError
from unmask.io import DEFAULT_LIMITS, NO_LIMITS, MediaLimits, load_audio


def aiff(path: Path, rate: float, channels: int = 1, frames_claimed: int = 1600, frames: int = 1600) -> Path:
    """A PCM AIFF whose COMM chunk says ``rate`` (an 80-bit float: any value) and ``frames_claimed``."""
    path.write_bytes(aiff_bytes(rate, channels, frames_claimed, frames))
    return path


@pytest.mark.parametrize(
    ("name", "rate", "channels", "claimed", "reason"),
    [
        ("2ghz.aiff", 2e9, 1, 1600, "sample rate of 2000000000 Hz"),  # a filter bank for a 125,000:1 ratio
        ("1hz.aiff", 1, 1, 1600, "sample rate of 1 Hz"),  # 1,600 samples -> 25.6 M output samples
        ("ten-hours.aiff", 16000, 1, 16000 * 36000, "36000 s long"),
        ("channels.aiff", 16000, 100, 160, "100 channels"),
    ],
)
def test_absurd_headers_are_refused_before_decoding(tmp_path, name, rate, channels, claimed, reason):
    path = aiff(tmp_path / name, rate, channels, claimed, frames=min(claimed, 1600))
    with pytest.raises(MediaError, match=reason) as info:
        load_audio(path)
    assert "limit" in str(info.value) and info.value.hint


def test_a_file_claiming_absurd_values_makes_the_process_allocate_nothing_for_them(tmp_path):
    """Peak memory of a fresh process decoding each file, over its peak after start-up: without the checks
    a 3 kB file claiming 1 Hz made swresample allocate ~700 MB, one claiming 2 GHz ~100 MB."""
    files = [aiff(tmp_path / "1hz.aiff", 1), aiff(tmp_path / "2ghz.aiff", 2e9),
             aiff(tmp_path / "10h-2ghz.aiff", 2e9, frames_claimed=2**32 - 1)]
    script = """
import json, resource, sys, warnings
from unmask.errors import MediaError
from unmask.io import load_audio
warnings.simplefilter("ignore")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcomes = []
for path in sys.argv[1:]:
    try:
        load_audio(path)
        outcomes.append("decoded")
    except MediaError as exc:
        outcomes.append(exc.reason)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"grown_kb": grown, "outcomes": outcomes}))
"""
    run = subprocess.run([sys.executable, "-c", script, *map(str, files)], capture_output=True, text=True,
                         timeout=120, check=True)
    report = json.loads(run.stdout.splitlines()[-1])
    assert "decoded" not in report["outcomes"], report
    assert report["grown_kb"] < 20 * 1024, report


def test_limits_are_settings_and_can_be_lifted(tmp_path):
    path = aiff(tmp_path / "8ch-100hz.aiff", 100, channels=8, frames_claimed=100, frames=100)
    with pytest.raises(MediaError, match="sample rate"):
        load_audio(path)
    wave = load_audio(path, limits=MediaLimits(min_sample_rate=50))
    assert len(wave) == 16000  # 1 s at 100 Hz, resampled
    assert len(load_audio(path, limits=NO_LIMITS)) == 16000
    with pytest.raises(MediaError, match="8 channels"):
        load_audio(path, limits=MediaLimits(min_sample_rate=50, max_channels=4))
    assert DEFAULT_LIMITS.max_channels == 64 and DEFAULT_LIMITS.min_sample_rate == 1000
    assert DEFAULT_LIMITS.max_sample_rate == 768_000
    for bad in ({"max_channels": 0}, {"min_sample_rate": 0}, {"min_sample_rate": 10, "max_sample_rate": 5}):
        with pytest.raises(ValueError):
            MediaLimits(**bad)
