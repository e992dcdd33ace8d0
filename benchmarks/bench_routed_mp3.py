"""The routed scan of a long MP3 with many parts: decoded once and spooled, against decoded once per part.

An MP3 cannot seek to the sample, so a slice of it is decoded from the file's start. A routed scan
(``unmask scan``'s default, ``--model auto``) scans every speech and music part as a slice, so without the
spool a podcast of 30 parts is decoded about 15 times over. With it, the content pass writes the decoded
audio to a temporary float WAV, which the parts read (``RoutedDetector._needs_spool``). Both scans run here
on the same file, in this process, after one warm-up scan; the reference is the scan without the spool.
They must give the same parts and score.

    .venv/bin/python benchmarks/bench_routed_mp3.py [--minutes 20] [--segment-s 40] [--repeats 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import SR, speech_like  # noqa: E402  (the benchmarks folder is not a package)


def music_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Chords with harmonics and a bass line, four notes a second."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.choice([196.0, 220.0, 262.0, 294.0, 330.0], size=int(seconds * 4) + 1)[(t * 4).astype(int)]
    chord = sum(0.15 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3, 4))
    return (chord + 0.1 * np.sin(np.pi * f0 * t)).astype(np.float32)


def write_podcast(folder: Path, minutes: float, segment_s: float) -> Path:
    """Speech and music in turns of ``segment_s`` seconds, as a 96 kbit/s MP3 (FFmpeg's encoder)."""
    from unmask.io import save_audio

    rng = np.random.default_rng(0)
    turns = max(2, int(round(minutes * 60 / segment_s)))
    wave = np.concatenate([(speech_like if k % 2 == 0 else music_like)(segment_s, rng) for k in range(turns)])
    flac = save_audio(folder / "podcast.flac", wave, SR)
    mp3 = folder / "podcast.mp3"
    command = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(flac), "-b:a", "96k", str(mp3)]
    subprocess.run(command, check=True)
    return mp3


def timed_scan(detector, path: Path, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = detector.scan(path)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="length of the podcast")
    parser.add_argument("--segment-s", type=float, default=40.0, help="length of each speech or music turn")
    parser.add_argument("--repeats", type=int, default=1, help="timed scans of each kind (median)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from unmask.detect.routing import RoutedDetector

    detector = RoutedDetector.load()
    with tempfile.TemporaryDirectory() as folder:
        path = write_podcast(Path(folder), args.minutes, args.segment_s)
        detector.scan(path)  # warm-up: model weights paged in, caches filled
        spooled_s, spooled = timed_scan(detector, path, args.repeats)
        detector._needs_spool = lambda _path: False  # the reference: each part decodes the MP3 from 0
        per_part_s, per_part = timed_scan(detector, path, args.repeats)
    audio_s = spooled.duration_s
    judged = sum(p.model is not None for p in spooled.parts)
    print(f"podcast            : {audio_s / 60:.1f} min of MP3, {len(spooled.parts)} parts, {judged} judged")
    print(f"spooled (default)  : {spooled_s:7.1f} s, {audio_s / spooled_s:6.1f}x real time")
    print(f"decoded per part   : {per_part_s:7.1f} s, {audio_s / per_part_s:6.1f}x real time")
    print(f"ratio              : the spool is {per_part_s / spooled_s:.2f}x faster")
    same = (spooled.parts == per_part.parts
            and abs(spooled.fake_probability - per_part.fake_probability) < 1e-6)
    print(f"same result        : {'yes' if same else 'NO'} (parts and score)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
