"""MLAAD (Multi-Language Audio Anti-Spoofing Dataset) fakes + M-AILABS reals.

MLAAD ships only fakes::

    fake/<language>/<model folder>/*.wav     e.g. fake/de/tts_models_de_thorsten_vits/...
    fake/<language>/<model folder>/meta.csv  '|'-separated: path|original_file|language|
                                             is_original_language|duration|training_data|model_name|architecture|...

Its bona fide counterpart is M-AILABS (the text/speech the fakes were made from)::

    <lang_code>/by_book/<female|male>/<speaker>/<book>/wavs/*.wav   (``mix/<book>/wavs`` for several readers)

Give the M-AILABS folder with ``--reals``; without it the importer looks for ``real/``, ``M-AILABS/``,
``mailabs/`` or ``m-ailabs/`` next to ``fake/``, and says so when it finds none (fakes only).
``system`` is the meta.csv ``model_name`` (else the model folder name); ``architecture``,
``is_original_language`` and ``duration`` (as ``duration_s``) are kept where meta.csv has them.
"""

from __future__ import annotations

from pathlib import Path

from unmask.data.corpora._base import (
    CorpusImporter,
    Records,
    find_all,
    find_first,
    read_delimited,
    walk_audio,
)
from unmask.errors import ManifestError

_REAL_FOLDERS = ("real", "M-AILABS", "mailabs", "m-ailabs", "MAILABS")


def _model_records(model_dir: Path, language: str) -> Records:
    meta_path = model_dir / "meta.csv"
    base = {
        "label": "fake",
        "source": "mlaad",
        "language": language,
        "domain": "speech",
        "system": model_dir.name,
    }
    if not meta_path.is_file():
        return [{**base, "path": path} for path in walk_audio(model_dir)]
    _header, rows = read_delimited(meta_path)
    records = []
    for _line, row in rows:
        # meta.csv paths are relative to the MLAAD root in some releases and bare names in others:
        # the file name is what identifies the clip inside its model folder.
        name = Path(row.get("path", "").replace("\\", "/")).name
        record = {**base, "path": model_dir / name}
        if row.get("model_name"):
            record["system"] = row["model_name"]
        for column in ("architecture", "is_original_language", "training_data"):
            if column in row:
                record[column] = row[column]
        if row.get("duration"):
            record["duration_s"] = row["duration"]
        records.append(record)
    return records


def _mailabs_records(folder: Path) -> Records:
    records = []
    for path in walk_audio(folder):
        parts = path.relative_to(folder).parts
        record = {"path": path, "label": "real", "source": "m-ailabs", "domain": "speech"}
        if "by_book" in parts:
            at = parts.index("by_book")
            lang_code = parts[at - 1] if at > 0 else ""
            record["language"] = lang_code.split("_")[0].lower()
            after = parts[at + 1 :]
            # by_book/<gender>/<speaker>/<book>/wavs/x.wav, or by_book/mix/<book>/wavs/x.wav
            if len(after) >= 5 and after[0] in ("female", "male"):
                record["speaker"] = after[1]
                record["gender"] = after[0]
        records.append(record)
    return records


def collect(root: Path, reals: tuple[Path, ...] | list[Path] | None = None) -> tuple[Records, list[str]]:
    fake_root = find_first(
        root,
        ["fake", "*/fake"],
        "MLAAD fake/ folder",
        hint="ROOT is the MLAAD folder holding fake/<language>/<model>/",
    )
    records: Records = []
    for language_dir in sorted(p for p in fake_root.iterdir() if p.is_dir()):
        for model_dir in sorted(p for p in language_dir.iterdir() if p.is_dir()):
            records.extend(_model_records(model_dir, language_dir.name))
    warnings = []
    real_dirs = [Path(r) for r in reals] if reals else find_all(fake_root.parent, _REAL_FOLDERS)
    if not real_dirs:
        warnings.append(
            "no M-AILABS reals found (looked for real/, M-AILABS/, mailabs/ next to fake/): "
            "the manifest holds fakes only; pass --reals PATH to add them"
        )
    for folder in real_dirs:
        if not folder.is_dir():
            raise ManifestError(
                "reals folder not found", path=folder, hint="give the unpacked M-AILABS folder"
            )
        records.extend(_mailabs_records(folder))
    return records, warnings


IMPORTER = CorpusImporter(
    name="mlaad",
    description="MLAAD fakes (fake/<lang>/<model>/, meta.csv) + M-AILABS reals (--reals, or real/ by fake/)",
    collect=collect,
    options=("reals",),
)
