"""In-the-Wild (Müller et al., 2022): ``release_in_the_wild/meta.csv`` + ``0.wav`` ... ``31778.wav``.

``meta.csv`` has the header ``file,speaker,label`` with labels ``bona-fide``/``spoof``; ``speaker`` is the
public figure the clip is of. ROOT may be ``release_in_the_wild`` or the folder holding it.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import (
    CorpusImporter,
    Records,
    find_first,
    label_of,
    read_delimited,
    require_columns,
)


def collect(root: Path) -> tuple[Records, list[str]]:
    meta = find_first(
        root,
        ["meta.csv", "release_in_the_wild/meta.csv"],
        "In-the-Wild meta.csv",
        hint="ROOT is the unpacked release_in_the_wild folder",
    )
    header, rows = read_delimited(meta)
    require_columns(header, ("file", "speaker", "label"), meta)
    records: Records = [
        {
            "path": meta.parent / row["file"],
            "label": label_of(row["label"], path=meta, line=line),
            "speaker": row["speaker"],
            "source": "in-the-wild",
            "language": "en",
            "domain": "speech",
        }
        for line, row in rows
    ]
    return records, []


IMPORTER = CorpusImporter(
    name="in-the-wild",
    description="In-the-Wild: release_in_the_wild/meta.csv (file,speaker,label: bona-fide/spoof)",
    collect=collect,
)
