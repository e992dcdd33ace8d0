"""ASVspoof 2021 DeepFake evaluation set with the full keys (see :mod:`._asvspoof2021`).

``source`` is ``asvspoof2021-df/<origin>`` where origin is the DF source corpus (asvspoof, vcc2018,
vcc2020); ``system`` is the attack (A07..., Task1-team20...); ``codec`` the compression, ``vocoder``
the vocoder family. Audio may sit in the four ``ASVspoof2021_DF_eval_part0N`` folders.
``--subset`` keeps one phase (progress/eval/hidden_track).
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora import _asvspoof2021
from unmask.data.corpora._base import CorpusImporter, Records


def collect(root: Path, subset: str | None = None) -> tuple[Records, list[str]]:
    return _asvspoof2021.collect(root, "DF", subset), []


IMPORTER = CorpusImporter(
    name="asvspoof2021-df",
    description="ASVspoof 2021 DF eval: keys/DF/CM/trial_metadata.txt + ASVspoof2021_DF_eval[_partNN]/flac",
    collect=collect,
    options=("subset",),
    choices={"subset": _asvspoof2021.PHASES},
)
