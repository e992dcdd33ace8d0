"""Scan throughput on Ray (1 and 2 workers) against the local engine, same files and model, one run.

Usage: .venv/bin/python benchmarks/bench_ray.py [--clips 120] [--seconds 6] [--model default] [--repeats 1]

Writes ``--clips`` speech-like clips (benchmarks/bench_scan.py's generator) of ``--seconds`` each as
16 kHz FLAC, then times whole ``unmask scan`` commands, each in a fresh process, so start-up (the model
load, and for Ray starting a local Ray instance and its actors) is counted as a user would see it:

* ``local``: ``unmask scan DIR --threads 1 --format csv --out FILE``;
* ``ray-1``, ``ray-2``: ``unmask scan DIR --engine ray -j N --out FILE.parquet`` (each actor one torch
  thread; Ray starts on this machine);

and each once more on a single clip, which measures the fixed start-up cost; the per-clip cost is the
difference. Reported per engine: wall seconds, real-time factor (audio s / wall s), the fixed cost, the
marginal real-time factor (audio / (wall - fixed)), and the overhead against the local engine in the same
run. A check that the engines agree (the same paths, scores within 1e-5) runs on the outputs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import SR, speech_like  # noqa: E402 - a sibling script, not a package

UNMASK = [sys.executable, "-m", "unmask.cli.main"]


def write_clips(folder: Path, count: int, seconds: float, seed: int = 0) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        sf.write(folder / f"clip-{i:04d}.flac", speech_like(seconds, rng).astype(np.float32), SR)
    return count * seconds


def command(engine: str, folder: Path, out: Path, model: str) -> list[str]:
    if engine == "local":
        return [*UNMASK, "-q", "scan", str(folder), "--model", model, "--threads", "1", "--format", "csv",
                "--out", str(out)]
    workers = engine.split("-")[1]
    return [*UNMASK, "-q", "scan", str(folder), "--model", model, "--engine", "ray", "-j", workers,
            "--out", str(out)]


def timed(cmd: list[str], repeats: int) -> float:
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return statistics.median(walls)


def agreement(outputs: dict[str, Path]) -> float:
    """The largest score difference between any engine's output and the local one's."""
    local = pd.read_csv(outputs["local"]).set_index("path")["fake_probability"]
    worst = 0.0
    for engine, path in outputs.items():
        if engine == "local":
            continue
        other = pd.read_parquet(path).set_index("path")["fake_probability"]
        if sorted(other.index) != sorted(local.index):
            raise SystemExit(f"{engine} scored other files than the local engine")
        worst = max(worst, float((other.loc[local.index] - local).abs().max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--model", default="default")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--engines", default="local,ray-1,ray-2")
    args = parser.parse_args()
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        audio_s = write_clips(root / "many", args.clips, args.seconds)
        write_clips(root / "one", 1, args.seconds, seed=1)
        rows, outputs = [], {}
        for engine in engines:
            suffix = "csv" if engine == "local" else "parquet"
            outputs[engine] = root / f"{engine}.{suffix}"
            one = command(engine, root / "one", root / f"one-{engine}.{suffix}", args.model)
            fixed = timed(one, args.repeats)
            wall = timed(command(engine, root / "many", outputs[engine], args.model), args.repeats)
            rows.append({"engine": engine, "wall_s": round(wall, 2), "rtf": round(audio_s / wall, 1),
                         "fixed_s": round(fixed, 2),
                         # None when the work is lost in the start-up noise: give more --clips
                         "marginal_rtf": round(audio_s / (wall - fixed), 1) if wall > fixed * 1.1 else None})
        max_diff = agreement(outputs) if "local" in outputs else None
    base = next((r for r in rows if r["engine"] == "local"), None)
    for row in rows:
        if base:
            row["wall_vs_local"] = round(row["wall_s"] / base["wall_s"], 2)
            if row["marginal_rtf"] and base["marginal_rtf"]:
                row["marginal_vs_local"] = round(row["marginal_rtf"] / base["marginal_rtf"], 2)
    print(f"{args.clips} clips x {args.seconds:g} s = {audio_s / 60:.1f} min of audio, model {args.model}")
    print(f"{'engine':8} {'wall s':>8} {'x real':>8} {'fixed s':>8} {'marg. x':>8} {'wall/local':>11}"
          f" {'marg./local':>12}")
    for r in rows:
        ratios = r.get("wall_vs_local", float("nan")), r.get("marginal_vs_local", float("nan"))
        print(f"{r['engine']:8} {r['wall_s']:8.2f} {r['rtf']:8.1f} {r['fixed_s']:8.2f}"
              f" {r['marginal_rtf'] or float('nan'):8.1f} {ratios[0]:11.2f} {ratios[1]:12.2f}")
    print(json.dumps({"audio_s": audio_s, "model": args.model, "rows": rows,
                      "max_abs_score_difference_vs_local": max_diff}))


if __name__ == "__main__":
    main()
