"""Codecfake (Xie et al., 2024, "The Codecfake Dataset and Countermeasures for the Universally
Detection of Deepfake Audio"; Zenodo, English VCTK + Chinese AISHELL-3 re-synthesised by neural codecs).

Layout (as the authors' README arranges it)::

    label/train.txt  label/dev.txt  label/C1.txt ... label/C7.txt  label/A1.txt ... label/A3.txt
    train/*.wav   dev/*.wav   test/C1/*.wav ... test/C7/   test/A1/ ... test/A3/

Each label line is ``FILE LABEL TAG`` with LABEL ``real``/``fake``; TAG is the codec/ALM tag the authors
use for source tracing. C1-C7 are codec test conditions (C7 unseen), A1-A3 audio-language-model
conditions; a condition folder may also sit directly under ROOT. ``--split`` picks train/dev/test,
``--subset`` one test condition. ``system`` is the TAG for fakes (else the condition name).

(The different "CodecFake" of Wu et al., built on VCTK and hosted on Hugging Face, is not this layout.)
"""

from __future__ import annotations

import re
from pathlib import Path

from unmask.data.corpora._base import CorpusImporter, Records, find_first, label_of, read_protocol
from unmask.errors import ManifestError

SPLITS = ("train", "dev", "test")
CONDITIONS = tuple(f"C{i}" for i in range(1, 8)) + ("A1", "A2", "A3")


def _language(name: str) -> str:
    if re.match(r"p\d{3}_", name):
        return "en"  # VCTK speaker ids
    if name.upper().startswith("SSB"):
        return "zh"  # AISHELL-3 speaker ids
    return ""


def _audio_folder(root: Path, condition: str) -> Path:
    if condition in ("train", "dev"):
        return root / condition
    for candidate in (root / "test" / condition, root / condition):
        if candidate.is_dir():
            return candidate
    return root / "test" / condition


def collect(root: Path, split: str | None = None, subset: str | None = None) -> tuple[Records, list[str]]:
    label_dir = find_first(
        root,
        ["label", "*/label"],
        "Codecfake label/ folder",
        hint="ROOT is the Codecfake folder holding label/*.txt and train/ dev/ test/",
    )
    base = label_dir.parent
    if subset:
        conditions = [subset]
    elif split == "test":
        conditions = [c for c in CONDITIONS if (label_dir / f"{c}.txt").is_file()]
    elif split:
        conditions = [split]
    else:
        conditions = [c for c in ("train", "dev", *CONDITIONS) if (label_dir / f"{c}.txt").is_file()]
    if not conditions:
        raise ManifestError(
            "no label files found", path=label_dir, hint="expected train.txt, dev.txt, C1.txt ..."
        )
    records: Records = []
    for condition in conditions:
        protocol = label_dir / f"{condition}.txt"
        if not protocol.is_file():
            raise ManifestError(
                f"label file for {condition} not found",
                path=protocol,
                hint="download that part of Codecfake, or choose another --split/--subset",
            )
        folder = _audio_folder(base, condition)
        part = condition if condition in ("train", "dev") else "test"
        for line, fields in read_protocol(protocol, min_fields=2):
            name, word = fields[0], fields[1]
            tag = fields[2] if len(fields) > 2 else ""
            label = label_of(word, path=protocol, line=line)
            records.append(
                {
                    "path": folder / name,
                    "label": label,
                    "system": (tag or condition) if label == "fake" else "",
                    "source": "codecfake",
                    "language": _language(name),
                    "domain": "speech",
                    "split": part,
                    "subset": condition,
                    "tag": tag,
                }
            )
    return records, []


IMPORTER = CorpusImporter(
    name="codecfake",
    description="Codecfake (Xie et al.): label/{train,dev,C1-C7,A1-A3}.txt + train/ dev/ test/<cond>/",
    collect=collect,
    options=("split", "subset"),
    choices={"split": SPLITS, "subset": CONDITIONS},
)
