"""Build the offline music pool (unmask.data.music_pool): Debian game music (real), the ACE-Step tracks of
the immich-memories-music wheel (AI), and the music rows of the given manifests, cut into excerpts and
passed through one encoding chain for both classes.

    python scripts/build_music_pool.py --install --out ../data/music \
        --manifest ../shared/data/realworld-dev/manifest.csv --manifest ../data/pool/manifest.csv

``--install`` runs ``apt-get install`` for the Debian music packages that are missing (needs root; about
480 MB). A rerun keeps the excerpts already written.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

from unmask.data.music_pool import (
    EncodingChain,
    ace_step_tracks,
    build_music_pool,
    debian_tracks,
    manifest_tracks,
)


def install(packages: list[str]) -> None:
    if os.geteuid() != 0:
        sys.exit(f"--install needs root: sudo apt-get install {' '.join(packages)}")
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, action="append", default=[],
                        help="a manifest whose domain=music rows join the pool (repeatable)")
    parser.add_argument("--install", action="store_true", help="apt-get install missing Debian music")
    parser.add_argument("--length", type=float, default=30.0, help="excerpt length, s")
    parser.add_argument("--count", type=int, default=4, help="excerpts per track at most")
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--codec", default="mp3", help="every excerpt's lossy round trip; 'none': none")
    parser.add_argument("--bitrate", type=int, default=96000)
    args = parser.parse_args()

    extracted = args.out / "_unpacked"  # tracks that a package ships inside an archive
    reals, missing = debian_tracks(extract_to=extracted)
    if missing and args.install:
        install(missing)
        reals, missing = debian_tracks(extract_to=extracted)
    if missing:
        print(f"not installed (left out): {', '.join(missing)}; --install adds them", file=sys.stderr)
    tracks = reals + ace_step_tracks()
    for manifest in args.manifest:
        tracks += manifest_tracks(manifest)
    chain = EncodingChain(args.rate, None if args.codec == "none" else args.codec, args.bitrate)
    print(f"{len(tracks)} tracks; chain: {chain.describe()}", file=sys.stderr)
    manifest, problems = build_music_pool(tracks, args.out, chain, length_s=args.length, count=args.count,
                                          log=lambda m: print(m, file=sys.stderr))
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    import pandas as pd

    frame = pd.read_csv(manifest)
    counts = collections.Counter(zip(frame["label"], frame["source"], strict=True))
    for (label, source), n in sorted(counts.items()):
        seconds = frame[(frame["label"] == label) & (frame["source"] == source)]["duration_s"].sum()
        print(f"{label:5} {source:45} {n:5} excerpts {seconds / 3600:6.2f} h")
    print(f"wrote {manifest} ({len(frame)} excerpts, {frame['song'].nunique()} songs)")


if __name__ == "__main__":
    main()
