"""Sample real clips per source from manifests, as input for copy-synthesis fakes (recipes/default/README.md).

Usage: .venv/bin/python scripts/sample_reals.py --per-source 6 --out reals.csv M1.csv [M2.csv ...]

Writes one manifest with absolute paths: up to ``--per-source`` real speech clips of every source, drawn
with ``--seed``, so every source's channel gets fake twins.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from unmask.data.manifest import read_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--per-source", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    parts = []
    for path in args.manifests:
        manifest = read_manifest(path)
        frame = manifest.frame.copy()
        frame["path"] = [str(p) for p in manifest.abs_paths()]
        frame = frame[(frame["label"] == "real") & (frame.get("domain", "speech") == "speech")]
        for _, group in frame.groupby("source"):
            parts.append(group.sample(min(len(group), args.per_source), random_state=args.seed))
    sampled = pd.concat(parts)
    sampled.to_csv(args.out, index=False)
    print(f"{len(sampled)} real clips of {sampled['source'].nunique()} sources -> {args.out}")


if __name__ == "__main__":
    main()
