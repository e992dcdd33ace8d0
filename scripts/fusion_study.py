"""Score-level fusion study: does adding a second detector's logits to a study's out-of-fold scores help?

Usage: .venv/bin/python scripts/fusion_study.py runs/default-whisper-tiny/out_of_fold.csv \\
           --member lfcc-gmm [--exclude-source Edresson/YourTTS ...] [--out fused.csv]

The study's ``out_of_fold.csv`` holds each clip's held-out logit (from a fold that never saw its source).
``--member`` (a bundled name or a checkpoint) scores the same files through ``Detector`` (the scan path).
Fusion weights are fitted by logistic regression leave-one-source-out on those logits, so every fused
score also comes from weights fitted without its source. Sources the member was trained on must be
excluded (``--exclude-source``): their member scores are not held out.
Prints the pooled EER of the study alone, the member alone, and the fusion, on the same clips.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from unmask.detect.pipeline import Detector
from unmask.errors import UnmaskError
from unmask.eval.metrics import compute_eer
from unmask.io import load_audio
from unmask.models.score_fusion import fit_fusion_weights


def member_logits(model: str, paths: list[str]) -> np.ndarray:
    """Each file's aggregated, uncalibrated logit from the scan pipeline (NaN when unreadable/silent)."""
    detector = Detector.load(model)
    rate = detector.model.sample_rate
    logits = []
    for path in paths:
        try:
            logit = detector.waveform_logit(load_audio(path, rate), rate)
        except UnmaskError:
            logit = None
        logits.append(np.nan if logit is None else logit)
    return np.asarray(logits, dtype=np.float64)


def fused_out_of_source(x: np.ndarray, y: np.ndarray, sources: np.ndarray) -> np.ndarray:
    fused = np.empty(len(y))
    for source in np.unique(sources):
        held = sources == source
        weights, bias = fit_fusion_weights(x[~held], y[~held])
        fused[held] = x[held] @ weights + bias
    return fused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_of_fold", type=Path)
    parser.add_argument("--member", required=True)
    parser.add_argument("--exclude-source", action="append", default=[])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    oof = pd.read_csv(args.out_of_fold)
    oof = oof[~oof["source"].isin(args.exclude_source)].reset_index(drop=True)
    oof["member_logit"] = member_logits(args.member, oof["path"].tolist())
    oof = oof.dropna(subset=["member_logit"]).reset_index(drop=True)
    y = (oof["label"] == "fake").to_numpy().astype(int)
    x = oof[["logit", "member_logit"]].to_numpy()
    oof["fused_logit"] = fused_out_of_source(x, y, oof["source"].to_numpy())
    print(f"{len(oof)} clips of {oof['source'].nunique()} sources")
    for column, name in (("logit", "study alone"), ("member_logit", f"{args.member} alone"),
                         ("fused_logit", "fusion (weights fitted leave-one-source-out)")):
        print(f"pooled EER, {name}: {100 * compute_eer(oof[column], y).eer:.1f}%")
    weights, bias = fit_fusion_weights(x, y)
    print(f"weights on all clips: study {weights[0]:.3f}, {args.member} {weights[1]:.3f}, bias {bias:.3f}")
    if args.out:
        oof.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
