"""Build the offline music pool (unmask.data.music_pool): Debian game music (real), the ACE-Step tracks of
the immich-memories-music wheel (AI), and the music rows of the given manifests, cut into excerpts and
passed through one encoding chain for both classes.

    python scripts/build_music_pool.py --install --out ../data/music \
        --manifest ../shared/data/realworld-dev/manifest.csv --manifest ../data/pool/manifest.csv

``--install`` runs ``apt-get install`` for the Debian music packages that are missing (needs root; about
480 MB). A rerun keeps the excerpts already written. Then the copy-synthesis fakes, of 1 in 3 songs
(``copy-twins.csv``), through the same chain:

    unmask data synthesize copy --real ../data/music/copy-twins.csv --domain music \
        --systems griffinlim,griffinlim-mel,lpc --out ../data/music-copy-raw
    python scripts/build_music_pool.py --out ../data/music-copy --only ../data/music-copy-raw/manifest.csv

The other songs are copied by the neural vocoder zoo, one system per song (``zoo-twins-<family>.csv``;
commands in docs/music.md), and chained the same way with one ``--only`` per system's manifest.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

from unmask.data.music_pool import (
    ZOO_FAMILIES,
    EncodingChain,
    ace_step_tracks,
    assign_families,
    broken_systems,
    build_music_pool,
    debian_tracks,
    manifest_tracks,
)


def install(packages: list[str]) -> None:
    if os.geteuid() != 0:
        sys.exit(f"--install needs root: sudo apt-get install {' '.join(packages)}")
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True)


def gather(args: argparse.Namespace) -> list:
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
    return tracks


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
    parser.add_argument("--twin-share", type=int, default=3, help="copy-synthesise 1 in N songs")
    parser.add_argument("--only", type=Path, action="append", default=[],
                        help="only these manifests' music rows (copy fakes); repeat for several")
    parser.add_argument("--zoo-families", default=",".join(ZOO_FAMILIES),
                        help="neural vocoder families that copy the songs without DSP twins, one per song")
    args = parser.parse_args()

    tracks = [t for only in args.only for t in manifest_tracks(only)] if args.only else gather(args)
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
    broken = broken_systems(tracks, frame["system"])
    for system, made in broken.items():
        print(f"error: none of the {made} copies by {system} follows its original, so the pool has no "
              f"{system} fakes. Its vocoder is broken: retrain it (unmask data train-vocoders --force, "
              "with --steps: timed minutes give a slow or busy machine too few), synthesise its copies "
              "again and rerun this.",
              file=sys.stderr)
    if broken:
        sys.exit(1)
    if args.only:
        return
    twins, chosen = write_twin_manifest(frame, args.out, args.twin_share)
    print(f"wrote {twins}: the reals of 1 in {args.twin_share} songs per source, for copy-synthesis")
    reals = frame[(frame["label"] == "real") & ~frame["song"].isin(chosen)]
    for family, path in write_zoo_twin_manifests(reals, args.out, args.zoo_families.split(",")).items():
        print(f"wrote {path}: the reals of the songs the {family} vocoder copies")


def write_twin_manifest(frame, out_dir: Path, share: int) -> tuple[Path, set[str]]:
    """The reals of every ``share``-th song of each source: the songs copy-synthesis fakes are made of.
    Returns the manifest written and those songs.

    Only some songs get fake twins. A fold that holds out a copy-synthesis family drops the reals of its
    songs from training (no song on both sides), and twins of every song would leave that fold no reals.
    """
    reals = frame[frame["label"] == "real"]
    chosen = set()
    for _, songs in reals.groupby("source")["song"]:
        chosen.update(sorted(set(songs))[::share])
    path = out_dir / "copy-twins.csv"
    reals[reals["song"].isin(chosen)].to_csv(path, index=False)
    return path, chosen


def write_zoo_twin_manifests(reals, out_dir: Path, families: list[str]) -> dict[str, Path]:
    """``zoo-twins-<family>.csv``: the songs without DSP twins, each given to one neural vocoder family.

    One family per song keeps a real twin for every fake, yet holding out a family drops only its own
    songs' reals from training (see :func:`unmask.data.music_pool.assign_families`)."""
    given = assign_families(dict(zip(reals["song"], reals["source"], strict=True)), families)
    paths = {}
    for family in families:
        paths[family] = out_dir / f"zoo-twins-{family}.csv"
        reals[reals["song"].map(given) == family].to_csv(paths[family], index=False)
    return paths


if __name__ == "__main__":
    main()
