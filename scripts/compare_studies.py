"""Is one study's pooled EER really better than another's? A paired bootstrap over held-out sources.

    python scripts/compare_studies.py runs/default-whisper-tiny runs/study-whisper-tiny-layers012

Both studies must have scored the same clips out of fold (``out_of_fold.csv``: same paths). Each of
``--draws`` bootstrap samples draws the sources with replacement (a source's clips travel together, as
they do in leave-one-source-out) and computes both studies' pooled EER on that sample. Reported: each
study's pooled EER, the difference (B - A), and its 95% interval. The interval covers what which
sources happen to be in the pool can move; a retraining's seed moves it as well, so a difference inside
the interval is not established either way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from unmask.eval.metrics import compute_eer


def pooled_eer(frame: pd.DataFrame, column: str) -> float:
    return float(compute_eer(frame[column].to_numpy(), (frame["label"] == "fake").to_numpy().astype(int)).eer)


def paired(a: Path, b: Path, column: str) -> pd.DataFrame:
    left = pd.read_csv(a / "out_of_fold.csv")
    right = pd.read_csv(b / "out_of_fold.csv")
    if set(left["path"]) != set(right["path"]):
        raise SystemExit(f"{a} and {b} did not score the same clips ({len(left)} vs {len(right)})")
    left = left[["path", "label", "source", column]].rename(columns={column: "a"})
    return left.merge(right[["path", column]].rename(columns={column: "b"}), on="path", validate="1:1")


def bootstrap(frame: pd.DataFrame, draws: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    by_source = {s: g for s, g in frame.groupby("source")}
    names = sorted(by_source)
    differences = []
    for _ in range(draws):
        sample = pd.concat([by_source[s] for s in rng.choice(names, size=len(names))])
        if sample["label"].nunique() < 2:
            continue
        differences.append(pooled_eer(sample, "b") - pooled_eer(sample, "a"))
    return np.asarray(differences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="a study's run folder (holds out_of_fold.csv)")
    parser.add_argument("b", type=Path)
    parser.add_argument("--column", default="logit", help="logit (clean clips) or logit_augmented")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame = paired(args.a, args.b, args.column)
    differences = bootstrap(frame, args.draws, args.seed)
    low, high = np.percentile(differences, [2.5, 97.5])
    print(f"{len(frame)} clips, {frame['source'].nunique()} sources, column {args.column}")
    print(f"A {args.a}: pooled EER {100 * pooled_eer(frame, 'a'):.1f}%")
    print(f"B {args.b}: pooled EER {100 * pooled_eer(frame, 'b'):.1f}%")
    print(f"B - A: {100 * (pooled_eer(frame, 'b') - pooled_eer(frame, 'a')):+.1f} points, 95% interval over "
          f"sources [{100 * low:+.1f}, {100 * high:+.1f}] ({len(differences)} draws)")


if __name__ == "__main__":
    main()
