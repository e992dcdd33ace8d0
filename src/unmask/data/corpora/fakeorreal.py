"""Fake-or-Real (FoR, Reimao & Tzerpos, 2019).

Four versions, each with the same split folders::

    for-original/ | for-norm/ | for-2sec/ (for-2seconds) | for-rerec/ (for-rerecorded)
        training/{real,fake}/*.wav   validation/{real,fake}/   testing/{real,fake}/

The Kaggle download nests them once more (``for-norm/for-norm/training/...``); both work. ``subset`` is
the version (for-original, for-norm, for-2sec, for-rerec) and ``--subset`` picks one; ``split`` is
train/dev/test (from training/validation/testing) and ``--split`` picks one.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import CorpusImporter, Records, walk_audio
from unmask.errors import ManifestError

VERSIONS = ("for-original", "for-norm", "for-2sec", "for-rerec")
SPLITS = ("train", "dev", "test")
_SPLIT_FOLDERS = {"training": "train", "validation": "dev", "testing": "test"}
_VERSION_ALIASES = {"for-2seconds": "for-2sec", "for-rerecorded": "for-rerec"}


def _version_of(split_dir: Path, root: Path) -> str:
    """The nearest enclosing ``for-*`` folder, canonicalised; ROOT's name when there is none."""
    for folder in [split_dir.parent, *split_dir.parent.parents]:
        name = folder.name.lower()
        if name.startswith("for-"):
            return _VERSION_ALIASES.get(name, name)
        if folder == root:
            break
    return root.name


def _split_dirs(root: Path) -> list[Path]:
    found = []
    for depth in range(4):
        for name in _SPLIT_FOLDERS:
            pattern = "/".join(["*"] * depth + [name])
            found.extend(
                p for p in sorted(root.glob(pattern)) if (p / "real").is_dir() or (p / "fake").is_dir()
            )
    return found


def collect(root: Path, split: str | None = None, subset: str | None = None) -> tuple[Records, list[str]]:
    split_dirs = _split_dirs(root)
    if not split_dirs:
        raise ManifestError(
            "no training/validation/testing folders with real/ and fake/ inside found",
            path=root,
            hint="ROOT is an unpacked FoR version (for-norm, ...) or their parent",
        )
    records: Records = []
    for split_dir in split_dirs:
        part = _SPLIT_FOLDERS[split_dir.name]
        version = _version_of(split_dir, root)
        if (split and part != split) or (subset and version != subset):
            continue
        for label in ("real", "fake"):
            for path in walk_audio(split_dir / label) if (split_dir / label).is_dir() else []:
                records.append(
                    {
                        "path": path,
                        "label": label,
                        "source": "fakeorreal",
                        "language": "en",
                        "domain": "speech",
                        "split": part,
                        "subset": version,
                    }
                )
    return records, []


IMPORTER = CorpusImporter(
    name="fakeorreal",
    description="Fake-or-Real: for-{original,norm,2sec,rerec}/{training,validation,testing}/{real,fake}",
    collect=collect,
    options=("split", "subset"),
    choices={"split": SPLITS, "subset": VERSIONS},
)
