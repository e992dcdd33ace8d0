"""ASVspoof 2021 Logical Access evaluation set with the full keys (see :mod:`._asvspoof2021`).

Columns kept: ``codec`` and ``channel`` (transmission), ``trim``, ``phase`` (progress/eval/hidden_track).
``--subset`` keeps one phase.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora import _asvspoof2021
from unmask.data.corpora._base import CorpusImporter, Records


def collect(root: Path, subset: str | None = None) -> tuple[Records, list[str]]:
    return _asvspoof2021.collect(root, "LA", subset), []


IMPORTER = CorpusImporter(
    name="asvspoof2021-la",
    description="ASVspoof 2021 LA eval: keys/LA/CM/trial_metadata.txt + ASVspoof2021_LA_eval/flac",
    collect=collect,
    options=("subset",),
    choices={"subset": _asvspoof2021.PHASES},
)
