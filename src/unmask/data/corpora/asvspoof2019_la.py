"""ASVspoof 2019 Logical Access (LA).

Layout (as distributed in ``LA.zip``)::

    LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.train.trn.txt   SPEAKER UTT - SYSTEM KEY
                                   /ASVspoof2019.LA.cm.dev.trl.txt
                                   /ASVspoof2019.LA.cm.eval.trl.txt
    LA/ASVspoof2019_LA_{train,dev,eval}/flac/UTT.flac

KEY is ``bonafide``/``spoof``; SYSTEM is ``-`` for bona fide speech, A01-A06 (train/dev), A07-A19 (eval).
ROOT may be the ``LA`` folder or the folder holding it.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import CorpusImporter, Records, find_first, label_of, read_protocol
from unmask.errors import ManifestError

SPLITS = ("train", "dev", "eval")
PROTOCOLS = {
    "train": "ASVspoof2019.LA.cm.train.trn.txt",
    "dev": "ASVspoof2019.LA.cm.dev.trl.txt",
    "eval": "ASVspoof2019.LA.cm.eval.trl.txt",
}


def _la_folder(root: Path) -> Path:
    protocols = find_first(
        root,
        ["ASVspoof2019_LA_cm_protocols", "LA/ASVspoof2019_LA_cm_protocols"],
        "ASVspoof2019_LA_cm_protocols folder",
        hint="ROOT is the unpacked LA folder (or the folder holding LA/)",
    )
    return protocols.parent


def collect(root: Path, split: str | None = None) -> tuple[Records, list[str]]:
    la = _la_folder(root)
    records: Records = []
    for part in [split] if split else SPLITS:
        protocol = la / "ASVspoof2019_LA_cm_protocols" / PROTOCOLS[part]
        if not protocol.is_file():
            raise ManifestError(
                f"protocol for the {part} split not found",
                path=protocol,
                hint="unpack the full LA.zip, or pick a split with --split",
            )
        audio = la / f"ASVspoof2019_LA_{part}" / "flac"
        for line, (speaker, utt, _, system, key, *_rest) in read_protocol(protocol, min_fields=5):
            records.append(
                {
                    "path": audio / f"{utt}.flac",
                    "label": label_of(key, path=protocol, line=line),
                    "system": "" if system == "-" else system,
                    "source": "asvspoof2019-la",
                    "speaker": speaker,
                    "language": "en",
                    "domain": "speech",
                    "split": part,
                }
            )
    return records, []


IMPORTER = CorpusImporter(
    name="asvspoof2019-la",
    description="ASVspoof 2019 LA: cm protocols + ASVspoof2019_LA_{train,dev,eval}/flac (A01-A19)",
    collect=collect,
    options=("split",),
    choices={"split": SPLITS},
)
