"""EER on 10 million scores: unmask's compute_eer against an EER read off sklearn's ROC curve.

Scores are two overlapping Gaussians (reals N(0, 1), fakes N(1.5, 1), 30 % fakes, fixed seed), rounded
to 4 decimals so that ties across classes occur as they do with real detectors. Prints the best of
three runs of each and their ratio, and checks both give the same EER.

Run: .venv/bin/python benchmarks/bench_eer.py [--n 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_curve

from unmask.eval.metrics import compute_eer, det_curve


def sklearn_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Reference: ASVspoof's rule (argmin |FNR - FPR|, mean of the two) on sklearn's ROC points."""
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    fnr = 1.0 - tpr
    best = np.argmin(np.abs(fnr - fpr))
    return float((fnr[best] + fpr[best]) / 2.0)


def best_time(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="number of scores")
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the best is reported")
    args = parser.parse_args()

    rng = np.random.default_rng(20240501)
    labels = rng.random(args.n) < 0.3
    scores = np.round(rng.normal(size=args.n) + 1.5 * labels, 4)
    print(f"n = {args.n:,} scores ({int(labels.sum()):,} fake), {np.unique(scores).size:,} distinct values")

    ours_s, ours = best_time(lambda: compute_eer(scores, labels), args.repeat)
    curve_s, _ = best_time(lambda: det_curve(scores, labels), args.repeat)
    ref_s, ref = best_time(lambda: sklearn_eer(scores, labels), args.repeat)

    print(f"unmask compute_eer      : {ours_s:7.3f} s  EER = {ours.eer:.6f} at threshold {ours.threshold}")
    print(f"unmask det_curve        : {curve_s:7.3f} s  (full curve, all distinct thresholds)")
    print(f"sklearn roc_curve + EER : {ref_s:7.3f} s  EER = {ref:.6f}")
    print(f"speed-up of compute_eer over the sklearn reference: {ref_s / ours_s:.1f}x")
    print(f"|EER difference| = {abs(ours.eer - ref):.2e}")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (timings are noisy on a busy machine)")
    if abs(ours.eer - ref) > 1e-9:
        raise SystemExit("EER differs from the sklearn reference")


if __name__ == "__main__":
    main()
