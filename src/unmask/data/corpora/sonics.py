"""SONICS (Rahman et al., ICLR 2025): end-to-end AI-generated songs (Suno, Udio) vs real songs.

Layout (Hugging Face ``awsaf49/sonics`` / Kaggle)::

    fake_songs.csv   real_songs.csv      metadata: filename, split (train/valid/test), duration, ...;
    fake_songs/<filename>.mp3            fakes also algorithm (chirp-v3.5, udio-120s, ...) and
    real_songs/<filename>.mp3            source (suno/udio)

Real songs are distributed as YouTube ids and downloaded by the user into ``real_songs/``. Without
the CSVs the folders alone are read (no split or system then). ``system`` is the fake's
``algorithm``, ``platform`` its suno/udio source, ``split`` train/dev/test, ``duration_s`` the CSV
duration. Lyrics and prompts are not copied into the manifest.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import CorpusImporter, Records, find_first, read_delimited, walk_audio
from unmask.errors import ManifestError

SPLITS = ("train", "dev", "test")
_SPLIT_WORDS = {
    "train": "train",
    "valid": "dev",
    "validation": "dev",
    "val": "dev",
    "dev": "dev",
    "test": "test",
}
_KEPT = ("id", "title", "artist", "style", "no_vocal")


def _audio_path(folder: Path, filename: str) -> Path:
    name = filename.strip()
    return folder / (
        name if Path(name).suffix.lower() in (".mp3", ".wav", ".flac", ".ogg", ".m4a") else f"{name}.mp3"
    )


def _from_csv(csv_path: Path, folder: Path, label: str, split: str | None) -> Records:
    header, rows = read_delimited(csv_path)
    if "filename" not in header:
        raise ManifestError(f"line 1: no 'filename' column (found {', '.join(header)})", path=csv_path)
    records = []
    for line, row in rows:
        part = _SPLIT_WORDS.get(row.get("split", "").strip().lower(), row.get("split", ""))
        if split and part != split:
            continue
        record = {
            "path": _audio_path(folder, row["filename"]),
            "label": label,
            "source": "sonics",
            "domain": "music",
            "split": part,
            "system": row.get("algorithm", "") if label == "fake" else "",
            "platform": row.get("source", "") if label == "fake" else "",
        }
        if row.get("duration"):
            try:
                record["duration_s"] = float(row["duration"])
            except ValueError:
                raise ManifestError(
                    f"line {line}: duration {row['duration']!r} is not a number", path=csv_path
                ) from None
        record.update({k: row[k] for k in _KEPT if k in row})
        records.append(record)
    return records


def collect(root: Path, split: str | None = None) -> tuple[Records, list[str]]:
    base = find_first(
        root,
        ["fake_songs.csv", "*/fake_songs.csv", "fake_songs", "*/fake_songs"],
        "SONICS fake_songs.csv or fake_songs/ folder",
        hint="ROOT is the SONICS folder holding fake_songs.csv and fake_songs/",
    ).parent
    records: Records = []
    warnings: list[str] = []
    for label, stem in (("fake", "fake_songs"), ("real", "real_songs")):
        csv_path, folder = base / f"{stem}.csv", base / stem
        if csv_path.is_file():
            records.extend(_from_csv(csv_path, folder, label, split))
        elif folder.is_dir():
            if split:
                raise ManifestError(f"--split needs {stem}.csv (the folder alone has no splits)", path=base)
            records.extend(
                {"path": p, "label": label, "source": "sonics", "domain": "music"} for p in walk_audio(folder)
            )
        else:
            warnings.append(f"neither {stem}.csv nor {stem}/ found: no {label} songs in the manifest")
    return records, warnings


IMPORTER = CorpusImporter(
    name="sonics",
    description="SONICS AI music: fake_songs.csv/real_songs.csv + fake_songs/ real_songs/ (or folders alone)",
    collect=collect,
    options=("split",),
    choices={"split": SPLITS},
)
