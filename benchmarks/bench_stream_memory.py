"""Peak memory of streaming a long file with iter_windows, against load_audio of the same file.

Writes a long test file (default: 1 hour of 44.1 kHz mono MP3, encoded block by block so the writer itself
stays small), then runs each reader in a fresh subprocess and reports its peak RSS (ru_maxrss) and wall
time, next to the RSS of a subprocess that only imports the same modules. Target: streaming a 1-hour file
stays under 300 MB RSS.

Then the same for the whole scan (``Detector.load(MODEL).scan``, or with ``--model auto`` the routed scan
that ``unmask scan`` runs by default) against
a subprocess that only loads the model: the scan's extra memory must not grow with the file's length
(it holds a few batches of windows, not the file), so the target is under 100 MB over that baseline.

    .venv/bin/python benchmarks/bench_stream_memory.py [--minutes 60] [--codec mp3|flac] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

TARGET_STREAM_RSS_MB = 300.0
TARGET_SCAN_EXTRA_MB = 100.0
RATE = 44100
BLOCK_S = 10.0


def write_long_file(path: Path, minutes: float, codec: str) -> None:
    """A chirp/tone/noise signal whose content changes every block, encoded without holding it in memory."""
    encoder = {"mp3": "libmp3lame", "flac": "flac"}[codec]
    rng = np.random.default_rng(0)
    block = int(BLOCK_S * RATE)
    t = np.arange(block) / RATE
    with av.open(str(path), "w") as out:
        stream = out.add_stream(encoder, rate=RATE)
        stream.layout = "mono"
        ctx = stream.codec_context
        resampler = av.AudioResampler(format=ctx.format.name, layout="mono", rate=RATE,
                                      frame_size=ctx.frame_size or None)
        for i in range(int(minutes * 60 / BLOCK_S)):
            f0 = 200.0 + 50.0 * (i % 40)
            chirp = np.sin(2 * np.pi * (f0 * t + 400.0 * t**2 / BLOCK_S))
            wave = 0.3 * chirp + 0.02 * rng.standard_normal(block)
            frame = av.AudioFrame.from_ndarray(wave.astype(np.float32)[None, :], format="fltp", layout="mono")
            frame.sample_rate = RATE
            for resampled in resampler.resample(frame):
                resampled.pts = None
                for packet in stream.encode(resampled):
                    out.mux(packet)
        for resampled in resampler.resample(None):
            resampled.pts = None
            for packet in stream.encode(resampled):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def child(mode: str, path: str, window_s: float, hop_s: float, model: str = "default") -> None:
    """Run one reader and print a JSON line: peak RSS (MB), wall time, what it produced."""
    import resource

    from unmask.io import NO_LIMITS, iter_windows, load_audio

    began = time.perf_counter()
    result: dict = {"mode": mode}
    if mode == "stream":
        count, energy = 0, 0.0
        for window in iter_windows(path, window_s, hop_s, limits=NO_LIMITS):
            count += 1
            energy += float(np.dot(window.samples, window.samples))  # touch every sample
        result.update(windows=count, energy=round(energy, 1))
    elif mode == "load":
        wave = load_audio(path, limits=NO_LIMITS)
        result.update(samples=int(wave.size), seconds=wave.size / 16000)
    elif mode in ("scan", "model-only"):
        from unmask import Detector
        from unmask._runtime import keep_freed_memory

        keep_freed_memory()  # as the unmask command does
        if model == "auto":  # unmask scan's default: the content pass, then each part's own detector
            from unmask.detect.routing import RoutedDetector

            detector = RoutedDetector.load(limits=NO_LIMITS)
        else:
            detector = Detector.load(model, limits=NO_LIMITS)
        if mode == "scan":
            scanned = detector.scan(path)
            if not scanned.ok:
                raise SystemExit(f"scan failed: {scanned.error}")
            result.update(windows=len(scanned.timeline), seconds=scanned.duration_s,
                          parts=len(scanned.parts))
    result["wall_s"] = round(time.perf_counter() - began, 2)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result["peak_rss_mb"] = round(peak_kib / 1024, 1)
    print(json.dumps(result))


def run_child(mode: str, path: Path, window_s: float, hop_s: float, model: str = "default") -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--file", str(path), "--model", model,
           "--window", str(window_s), "--hop", str(hop_s)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--codec", choices=["mp3", "flac"], default="mp3")
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--hop", type=float, default=2.0)
    parser.add_argument("--keep", type=Path, help="write the test file here and keep it (else a temp dir)")
    parser.add_argument(
        "--child", choices=["stream", "load", "idle", "scan", "model-only"], help=argparse.SUPPRESS
    )
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="default",
                        help="the scanned model: default, music (a 5-min song: --minutes 5 --model music), "
                             "or auto (the routed scan, unmask scan's default)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.window, args.hop, args.model)
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"long_{args.minutes:g}min.{args.codec}"
        began = time.perf_counter()
        write_long_file(path, args.minutes, args.codec)
        print(f"wrote {path.name}: {args.minutes:g} min, {RATE} Hz {args.codec}, "
              f"{path.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - began:.1f} s")

        idle = run_child("idle", path, args.window, args.hop)
        stream = run_child("stream", path, args.window, args.hop)
        load = run_child("load", path, args.window, args.hop)
        model_only = run_child("model-only", path, args.window, args.hop, args.model)
        scan = run_child("scan", path, args.window, args.hop, args.model)

    print(f"imports only       : peak RSS {idle['peak_rss_mb']:8.1f} MB")
    print(f"iter_windows {args.window:g}/{args.hop:g} s: peak RSS {stream['peak_rss_mb']:8.1f} MB, "
          f"{stream['wall_s']:6.1f} s, {stream['windows']} windows")
    print(f"load_audio (ref)   : peak RSS {load['peak_rss_mb']:8.1f} MB, {load['wall_s']:6.1f} s, "
          f"{load['seconds']:.0f} s of audio")
    print(f"ratio load/stream  : {load['peak_rss_mb'] / stream['peak_rss_mb']:.2f}x peak RSS, "
          f"{load['wall_s'] / stream['wall_s']:.2f}x wall time")
    verdict = "meets" if stream["peak_rss_mb"] < TARGET_STREAM_RSS_MB else "MISSES"
    print(f"target             : streaming {verdict} < {TARGET_STREAM_RSS_MB:.0f} MB")
    extra = scan["peak_rss_mb"] - model_only["peak_rss_mb"]
    print(f"{'model only, ' + args.model:<19}: peak RSS {model_only['peak_rss_mb']:8.1f} MB")
    print(f"{'scan, ' + args.model:<19}: peak RSS {scan['peak_rss_mb']:8.1f} MB, {scan['wall_s']:6.1f} s, "
          f"{scan['windows']} windows in {scan['parts']} part(s); {extra:.1f} MB over the model alone")
    verdict = "meets" if extra < TARGET_SCAN_EXTRA_MB else "MISSES"
    print(f"target             : scan {verdict} < {TARGET_SCAN_EXTRA_MB:.0f} MB over the model alone")


if __name__ == "__main__":
    main()
