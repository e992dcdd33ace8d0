"""Scan speed and memory: the default detector vs the previous default (LFCC-GMM) and the official AASIST
architecture, same pipeline and audio, one run.

Usage: .venv/bin/python benchmarks/bench_scan.py [--minutes 10] [--file-seconds 60] [--batch-size 32]
                                                  [--threads 0] [--aasist-threads 2]
                                                  [--models default,lfcc-gmm,aasist,music,auto]

Generates ``--minutes`` of speech-like audio (a pitch-varying glottal source through per-syllable vowel
formants, fricative noise bursts and pauses) as 60 s, 16 kHz FLAC files, then times
``Detector.scan_many`` over all of them for:

* ``default``: the bundled model (``src/unmask/assets/default.pt``) when it exists, else an LCNN built
  from ``recipes/default/recipe.yaml``'s ``trainer.model_config`` (random weights: speed does not depend
  on them), with the pipeline's default hop (half a window);
* ``lfcc-gmm``: the previous default, bundled as ``lfcc-gmm`` (``src/unmask/assets/lfcc-gmm.pt``);
* ``aasist``: the official AASIST architecture (random weights), its 64,600-sample window, hop = window
  (the official evaluation scores non-overlapping inputs);
* ``candidate``: any checkpoint (``--candidate PATH``), e.g. a study's model before it is bundled;
* ``music``: the bundled music detector (``music.pt``, artifact-spectrum, 30-s windows every 15 s), or
  the SpecTTTra architecture with random weights when it is missing; target >= 50x real time on 2
  cores (issue 15);
* ``auto``: the routed scan, ``unmask scan``'s default (the content classifier's pass over each file,
  then each part through its own detector's streamed scan; the speech-like audio goes mostly to
  ``default``). Its ratio to ``default`` is what routing costs a speech user.

``--file-seconds`` sets the length of each generated file (60 s by default): a longer file with the same
peak RSS is what "constant memory" means for a scan, routed or not.

Each model runs in a fresh subprocess so the peak RSS (``resource.getrusage``) is its own. Decoding is
included in the wall time (it overlaps with scoring in a background thread, as in ``unmask scan``).
Both workers set up the process as the ``unmask`` command does (``unmask._runtime.keep_freed_memory``;
``UNMASK_MALLOC_TUNING=0`` measures without it). Threads: the default model runs with ``unmask scan``'s
policy (``--threads 0``: one fewer than the cores, leaving the decoder one); AASIST with
``--aasist-threads`` (2: its faster setting here, so the ratio is not flattered by starving it).
After one warm-up file, the whole set is scanned --repeats times (--aasist-repeats for AASIST); the wall
time is the median pass. Reported: audio seconds, wall seconds, real-time factor (audio s / wall s), peak
RSS, and the ratios of the real-time factors (> 1: the default model is faster than the other).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

SR = 16_000
REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "default" / "recipe.yaml"
# (F1, F2, F3) in Hz for a few vowels: each syllable picks one, so the spectrum moves like speech.
MODELS = ("default", "lfcc-gmm", "aasist", "music", "candidate", "auto")
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240))


# ------------------------------------------------------------------------------------------- audio
def _resonate(signal: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    r = np.exp(-np.pi * bandwidth / SR)
    return lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * freq / SR), r * r], signal)


def speech_like(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Syllables (voiced vowel, optional fricative onset) separated by short pauses, at speech rate."""
    pieces: list[np.ndarray] = []
    total = int(seconds * SR)
    f0 = rng.uniform(90, 220)
    while sum(len(p) for p in pieces) < total:
        n = int(rng.uniform(0.12, 0.3) * SR)
        t = np.arange(n) / SR
        pitch = f0 * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 4) * t + rng.uniform(0, 6)))
        phase = np.cumsum(pitch / SR)
        source = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
        source += 0.01 * rng.standard_normal(n)
        vowel = sum(
            _resonate(source, f, 60 + 40 * k) for k, f in enumerate(VOWELS[rng.integers(len(VOWELS))])
        )
        vowel *= np.hanning(n)
        if rng.random() < 0.4:  # fricative onset: high-passed noise
            m = int(0.06 * SR)
            noise = np.diff(rng.standard_normal(m + 1)) * np.hanning(m) * 0.3
            vowel = np.concatenate([noise * np.abs(vowel).max(), vowel])
        pieces.append(vowel / (np.abs(vowel).max() + 1e-9) * rng.uniform(0.2, 0.5))
        if rng.random() < 0.3:  # pause between words
            pieces.append(0.001 * rng.standard_normal(int(rng.uniform(0.05, 0.4) * SR)))
    return np.concatenate(pieces)[:total].astype(np.float32)


def write_audio(folder: Path, minutes: float, file_s: float = 60.0) -> list[Path]:
    """``minutes`` of speech-like audio as files of ``file_s`` each (at least one file)."""
    from unmask.io import save_audio

    rng = np.random.default_rng(0)
    n_files = max(1, int(round(minutes * 60 / file_s)))
    return [save_audio(folder / f"speech_{i:03d}.flac", speech_like(file_s, rng), SR) for i in range(n_files)]


# ------------------------------------------------------------------------------------------ worker
def build_detector(which: str, batch_size: int, candidate: Path | None = None):
    import torch
    import yaml

    from unmask.detect.pipeline import Detector, bundled_model_path
    from unmask.models.registry import build_model

    torch.manual_seed(0)
    if which == "aasist":
        model = build_model("aasist")
        return Detector(model, name="aasist (random init)").with_settings(
            hop_s=model.window_samples / model.sample_rate, batch_size=batch_size
        ), "AASIST, official config, random init, hop = window"
    if which == "candidate":
        if candidate is None:
            raise SystemExit("--models candidate needs --candidate PATH (a checkpoint)")
        return Detector.load(str(candidate), batch_size=batch_size), f"checkpoint {candidate}"
    if which == "auto":
        from unmask.detect.routing import RoutedDetector

        return RoutedDetector.load(batch_size=batch_size), "routed: content classifier, default + music"
    if which == "lfcc-gmm":
        return Detector.load("lfcc-gmm", batch_size=batch_size), "bundled lfcc-gmm.pt (the previous default)"
    if which == "music":  # 30-s windows every 15 s: its speed does not depend on what the audio holds
        if bundled_model_path("music").is_file():
            label = "bundled music.pt (artifact-spectrum, 30-s windows)"
            return Detector.load("music", batch_size=batch_size), label
        model = build_model("spectttra")
        return Detector(model, name="spectttra (random init)").with_settings(batch_size=batch_size), \
            "SpecTTTra default config, random init"
    if bundled_model_path("default").is_file():
        return Detector.load("default", batch_size=batch_size), "bundled default.pt"
    trainer = yaml.safe_load(RECIPE.read_text())["trainer"]
    model = build_model(trainer["model"], trainer.get("model_config"))
    detector = Detector(model, name=f"{trainer['model']} (random init)").with_settings(batch_size=batch_size)
    return detector, f"{trainer['model']} from recipes/default/recipe.yaml, random init, hop = window / 2"


def run_worker(which: str, audio_dir: Path, batch_size: int, threads: int, repeats: int,
               candidate: Path | None = None) -> None:
    from unmask._runtime import keep_freed_memory
    from unmask.cli.common import use_scoring_threads

    keep_freed_memory()  # as the unmask command does, for both models
    threads = use_scoring_threads(threads)
    from unmask.io import probe_audio

    paths = sorted(audio_dir.glob("*.flac"))
    detector, description = build_detector(which, batch_size, candidate)
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    list(detector.scan_many(paths[:1]))  # warm-up: lazy initialisation, first allocations
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = list(detector.scan_many(paths))
        walls.append(time.perf_counter() - start)
    failed = [r.path for r in results if r.verdict == "error"]
    if failed:
        raise SystemExit(f"{which}: scan failed for {failed}")
    print(
        json.dumps(
            {
                "model": which,
                "threads": threads,
                "description": description,
                "parameters": _parameters(detector),
                "window_s": detector.window_s,
                "hop_s": detector.hop_s,
                "windows": sum(len(r.timeline) for r in results),
                "audio_s": sum(probe_audio(p).duration_s for p in paths),
                "wall_s": statistics.median(walls),
                "wall_s_all": walls,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_scan_mb": rss_before_mb,
            }
        )
    )


def _parameters(detector) -> int:
    """A detector's weights; a routed one counts every detector it routes to."""
    routed = getattr(detector, "detectors", None)
    if routed is not None:
        return sum(d.model.num_parameters() for d in routed.values())
    return detector.model.num_parameters()


# ------------------------------------------------------------------------------------------ parent
def measure(which: str, audio_dir: Path, batch_size: int, threads: int, repeats: int,
            candidate: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", which, "--audio-dir", str(audio_dir)]
    cmd += ["--batch-size", str(batch_size), "--threads", str(threads), "--repeats", str(repeats)]
    if candidate is not None:
        cmd += ["--candidate", str(candidate)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="minutes of audio to scan")
    parser.add_argument("--file-seconds", type=float, default=60.0, help="length of each generated file")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per model call (both models)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads, default model (0: as unmask scan: cores - 1)"
    )
    parser.add_argument("--aasist-threads", type=int, default=2, help="torch threads for AASIST")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes, default model (median)")
    parser.add_argument("--aasist-repeats", type=int, default=1, help="timed passes, AASIST (median)")
    parser.add_argument("--audio-dir", type=Path, help="reuse/keep the generated audio here")
    parser.add_argument(
        "--models", default="default,lfcc-gmm,aasist",
        help="comma-separated subset of default,lfcc-gmm,aasist,music,candidate (ratios need default "
             "and another)",
    )
    parser.add_argument("--candidate", type=Path, help="checkpoint measured as 'candidate'")
    parser.add_argument("--worker", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.audio_dir, args.batch_size, args.threads, args.repeats, args.candidate)
        return

    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        audio_dir = args.audio_dir or Path(tmp)
        audio_dir.mkdir(parents=True, exist_ok=True)
        if not list(audio_dir.glob("*.flac")):
            start = time.perf_counter()
            files = write_audio(audio_dir, args.minutes, args.file_seconds)
            took = time.perf_counter() - start
            print(f"generated {len(files)} x {args.file_seconds:g} s FLAC in {took:.1f} s -> {audio_dir}")
        print(f"batch size: {args.batch_size}")
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        if not models or set(models) - set(MODELS):
            parser.error(f"--models: choose from {','.join(MODELS)}, got {args.models!r}")
        threads = {m: args.aasist_threads if m == "aasist" else args.threads for m in MODELS}
        repeats = {m: args.aasist_repeats if m == "aasist" else args.repeats for m in MODELS}
        rows = [measure(which, audio_dir, args.batch_size, threads[which], repeats[which], args.candidate)
                for which in models]

    header = (
        f"{'model':<9} {'threads':>7} {'windows':>7} {'audio s':>8} {'wall s':>8} {'RT x':>7} {'peak RSS':>9}"
    )
    print(header)
    for row in rows:
        row["rt_factor"] = row["audio_s"] / row["wall_s"]
        print(
            f"{row['model']:<9} {row['threads']:>7} {row['windows']:>7} {row['audio_s']:>8.1f} "
            f"{row['wall_s']:>8.2f} {row['rt_factor']:>7.1f} {row['peak_rss_mb']:>6.0f} MB"
            f"   ({row['description']}; RSS before scan {row['rss_before_scan_mb']:.0f} MB;"
            f" passes: {', '.join(f'{w:.2f}' for w in row['wall_s_all'])} s)"
        )
    by_model = {row["model"]: row for row in rows}
    if "default" not in by_model:
        return
    for other in (m for m in by_model if m != "default"):
        ratio = by_model["default"]["rt_factor"] / by_model[other]["rt_factor"]
        print(f"real-time factor ratio default / {other}: {ratio:.1f}x (> 1: the default model scans faster)")


if __name__ == "__main__":
    main()
