"""Corpus importers: turn a corpus's official on-disk layout into a :class:`~unmask.data.manifest.Manifest`.

``CORPORA`` maps a format name to its :class:`CorpusImporter` (``.description`` is one line)::

    from unmask.data.corpora import import_corpus
    result = import_corpus("asvspoof2019-la", "/data/LA", split="dev")
    result.manifest.write("asv19-dev.csv")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unmask.data.corpora import (
    asvspoof5,
    asvspoof2019_la,
    asvspoof2021_df,
    asvspoof2021_la,
    codecfake,
    fakeorreal,
    in_the_wild,
    mlaad,
    sonics,
    wavefake,
)
from unmask.data.corpora._base import CorpusImporter, ImportResult, MissingAudioError

CORPORA: dict[str, CorpusImporter] = {
    module.IMPORTER.name: module.IMPORTER
    for module in (
        asvspoof2019_la,
        asvspoof2021_la,
        asvspoof2021_df,
        asvspoof5,
        in_the_wild,
        mlaad,
        wavefake,
        fakeorreal,
        codecfake,
        sonics,
    )
}


def get_importer(name: str) -> CorpusImporter:
    """The importer for ``name``; KeyError listing the known formats otherwise."""
    try:
        return CORPORA[name.lower()]
    except KeyError:
        raise KeyError(f"unknown corpus format {name!r}; known: {', '.join(CORPORA)}") from None


def import_corpus(name: str, root: str | Path, *, skip_missing: bool = False, **options: Any) -> ImportResult:
    """Import corpus ``name`` from ``root``; see :class:`CorpusImporter` for the missing-file policy."""
    return get_importer(name)(root, skip_missing=skip_missing, **options)


__all__ = [
    "CORPORA",
    "CorpusImporter",
    "ImportResult",
    "MissingAudioError",
    "get_importer",
    "import_corpus",
]
