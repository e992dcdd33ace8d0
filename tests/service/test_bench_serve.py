"""A short run of the load benchmark (benchmarks/bench_serve.py) on a tiny model: it works end to end,
reports every figure, and sees no errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from service_fixtures import tiny_detector

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_serve.py"


def test_load_benchmark_smoke(tmp_path: Path) -> None:
    from unmask.models.checkpoint import Checkpoint, save_checkpoint

    model = tmp_path / "tiny.pt"
    save_checkpoint(model, Checkpoint(tiny_detector().model))
    done = subprocess.run(
        [sys.executable, str(BENCH), "--clients", "2", "--seconds", "3", "--clip-seconds", "2",
         "--model", str(model), "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] == 0 and report["scans"] >= 2
    for name in ("upload_latency_ms", "scan_latency_ms"):
        assert 0 < report[name]["p50"] <= report[name]["p95"] <= report[name]["p99"]
    assert report["scans_per_s"] > 0 and report["server_peak_rss_mib"] > 50
