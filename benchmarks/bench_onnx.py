"""Torch vs onnxruntime throughput of the same detector, one run (docs/onnx.md).

Usage: .venv/bin/python benchmarks/bench_onnx.py [--models whisper-mlp,lfcc-gmm] [--seconds 20]
                                                  [--batch-size 16] [--threads 1] [--repeats 3] [--json]

For each model (a bundled name or a .pt path, or a registered architecture name, built with its default
config: random back-end weights, which do not change speed) the checkpoint is exported to ONNX in memory
(``unmask.models.onnx_export``, parity-checked) and both are timed on the CPU with the same thread count:

* ``forward``: ``model(batch)`` on ``--batch-size`` windows, the exported function itself;
* ``scan``: ``Detector.scan_waveform`` of ``--seconds`` of speech-like audio at the model's own hop, the
  whole pipeline. Here the torch path may share work between overlapping windows (``score_strip``:
  Whisper-MLP encodes each 2-s block once, LFCC-GMM each STFT frame once); the ONNX graph is the window
  function, so it scores every window in full.

Each figure is the median of ``--repeats`` timed passes after one warm-up. Printed: windows/s for each
runtime and the ratio onnx / torch (> 1: onnxruntime is faster), plus the largest |logit| difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import speech_like  # noqa: E402 - the shared speech-like audio

from unmask.detect.pipeline import BUNDLED_MODELS, Detector, resolve_model  # noqa: E402
from unmask.models.checkpoint import Checkpoint, load_checkpoint  # noqa: E402
from unmask.models.onnx_export import OnnxDetectorModel, onnx_bytes  # noqa: E402
from unmask.models.registry import available_models, build_model  # noqa: E402


def _checkpoint(name: str) -> Checkpoint:
    if name in BUNDLED_MODELS or Path(name).is_file():
        return load_checkpoint(resolve_model(name))
    if name in available_models():
        torch.manual_seed(0)
        return Checkpoint(build_model(name).eval())
    raise SystemExit(f"unknown model {name!r}: a bundled name, a .pt path or an architecture")


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, seconds: float, batch_size: int, threads: int, repeats: int) -> dict:
    ckpt = _checkpoint(name)
    model = ckpt.model.eval()
    t0 = time.perf_counter()
    data, parity = onnx_bytes(ckpt, name=name)
    export_s = time.perf_counter() - t0
    runtime = OnnxDetectorModel(data, threads=threads)
    rng = np.random.default_rng(0)
    n = model.window_samples
    audio = speech_like(max(seconds, 2 * n / model.sample_rate), rng).astype(np.float32)
    starts = np.linspace(0, len(audio) - n, batch_size).astype(int)
    batch = torch.from_numpy(np.stack([audio[s : s + n] for s in starts]))

    out: dict = {"model": name, "architecture": model.name, "onnx_mb": round(len(data) / 1e6, 2),
                 "export_s": round(export_s, 2), "probe_max_abs_logit_difference": parity}
    with torch.inference_mode():
        diff = (runtime(batch).double() - model(batch).double()).abs().max().item()
        out["batch_max_abs_logit_difference"] = diff
        for label, module in (("torch", model), ("onnx", runtime)):
            wall = _median_time(lambda m=module: m(batch), repeats)
            out[f"forward_{label}_windows_per_s"] = batch_size / wall
    for label, module in (("torch", model), ("onnx", runtime)):
        detector = Detector(module, name=name, device="cpu").with_settings(batch_size=batch_size)
        windows = len(detector.scan_waveform(audio, model.sample_rate).timeline)
        wall = _median_time(lambda d=detector: d.scan_waveform(audio, model.sample_rate), repeats)
        out[f"scan_{label}_windows_per_s"] = windows / wall
        out["scan_windows"] = windows
    out["forward_ratio"] = out["forward_onnx_windows_per_s"] / out["forward_torch_windows_per_s"]
    out["scan_ratio"] = out["scan_onnx_windows_per_s"] / out["scan_torch_windows_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="whisper-mlp,lfcc-gmm")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio scanned per pass")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench(m.strip(), args.seconds, args.batch_size, args.threads, args.repeats)
            for m in args.models.split(",") if m.strip()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"threads {args.threads}, batch {args.batch_size}, {args.seconds:g} s of audio per scan pass, "
          f"median of {args.repeats}")
    header = f"{'model':<14}{'path':<9}{'torch win/s':>12}{'onnx win/s':>12}{'onnx/torch':>11}"
    print(header + f"{'max|dlogit|':>13}")
    for r in rows:
        for path in ("forward", "scan"):
            print(f"{r['model']:<14}{path:<9}{r[f'{path}_torch_windows_per_s']:>12.1f}"
                  f"{r[f'{path}_onnx_windows_per_s']:>12.1f}{r[f'{path}_ratio']:>11.2f}"
                  f"{r['batch_max_abs_logit_difference']:>13.2g}")
        print(f"{'':<14}onnx file {r['onnx_mb']} MB, export + parity check {r['export_s']} s")


if __name__ == "__main__":
    main()
