"""Shared plumbing for corpus importers: protocol reading, audio lookup, the missing-file policy."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unmask.data.manifest import Manifest, normalize_label
from unmask.errors import ManifestError

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm"})
OPTION_NAMES = ("split", "subset", "reals")

Records = list[dict[str, Any]]
Collector = Callable[..., tuple[Records, list[str]]]


class MissingAudioError(ManifestError):
    """Audio named by a corpus protocol does not exist (the layout itself was understood)."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | Path | None = None,
        hint: str | None = None,
        missing: list[Path] | None = None,
    ) -> None:
        super().__init__(reason, path=path, hint=hint)
        self.missing = missing or []


@dataclass
class ImportResult:
    """What an importer produced: the manifest, the referenced files it left out, and notes."""

    manifest: Manifest
    missing: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CorpusImporter:
    """A named importer: ``collect(root, **options)`` returns records (absolute paths) and warnings.

    ``options`` names the keyword options the corpus understands (a subset of ``split``, ``subset``,
    ``reals``); ``choices`` lists allowed values for those that take fixed words.
    """

    name: str
    description: str
    collect: Collector
    options: tuple[str, ...] = ()
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, root: str | Path, *, skip_missing: bool = False, **options: Any) -> ImportResult:
        """Import the corpus under ``root``.

        Referenced audio that does not exist raises ManifestError with the count and examples unless
        ``skip_missing`` is set; then those rows are left out and listed in ``ImportResult.missing``.
        """
        root = Path(os.path.abspath(root))
        if not root.is_dir():
            raise ManifestError(
                "corpus root is not a folder",
                path=root,
                hint=f"give the folder the {self.name} download was unpacked into",
            )
        given = {k: v for k, v in options.items() if v not in (None, (), [])}
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            accepted = ", ".join(f"--{o}" for o in self.options) or "none"
            raise ValueError(
                f"{self.name} does not take option(s) {', '.join(unknown)} (it takes: {accepted})"
            )
        for option, allowed in self.choices.items():
            if option in given and given[option] not in allowed:
                raise ValueError(
                    f"{self.name}: --{option} must be one of {', '.join(allowed)}, not {given[option]!r}"
                )
        records, warnings = self.collect(root, **given)
        return finalize(records, root, corpus=self.name, skip_missing=skip_missing, warnings=warnings)


def finalize(
    records: Records, root: Path, *, corpus: str, skip_missing: bool, warnings: list[str] | None = None
) -> ImportResult:
    """Apply the missing-file policy and build the manifest (paths relative to ``root``)."""
    warnings = list(warnings or [])
    if not records:
        raise ManifestError(
            f"no {corpus} files found", path=root, hint="check the folder and any --split/--subset given"
        )
    present, missing = [], []
    for record in records:
        (present if os.path.isfile(record["path"]) else missing).append(record)
    if missing and not skip_missing:
        examples = ", ".join(str(r["path"]) for r in missing[:3])
        raise MissingAudioError(
            f"{len(missing)} of {len(records)} audio files named by the {corpus} protocol are missing "
            f"(e.g. {examples})",
            path=root,
            hint="unpack every archive of the corpus, or pass --skip-missing to leave those rows out",
            missing=[Path(r["path"]) for r in missing],
        )
    if missing:
        warnings.append(f"left out {len(missing)} of {len(records)} rows whose audio is missing")
    if not present:
        raise MissingAudioError(
            f"none of the {len(records)} {corpus} audio files exist",
            path=root,
            hint="check that the audio archives are unpacked under this folder",
            missing=[Path(r["path"]) for r in missing],
        )
    manifest = Manifest.from_records(present, root)
    return ImportResult(manifest, [Path(r["path"]) for r in missing], warnings)


def find_first(root: Path, candidates: Iterable[str], what: str, *, hint: str | None = None) -> Path:
    """The first existing ``root / pattern`` (glob patterns allowed, matches sorted) or a ManifestError."""
    tried = []
    for pattern in candidates:
        tried.append(pattern)
        matches = sorted(root.glob(pattern))
        if matches:
            return matches[0]
    raise ManifestError(f"{what} not found (looked for {', '.join(tried)})", path=root, hint=hint)


def find_all(root: Path, candidates: Iterable[str]) -> list[Path]:
    """Every existing ``root / pattern`` match, de-duplicated, in pattern then name order."""
    found: list[Path] = []
    for pattern in candidates:
        for match in sorted(root.glob(pattern)):
            if match not in found:
                found.append(match)
    return found


def read_protocol(path: Path, *, min_fields: int) -> Iterator[tuple[int, list[str]]]:
    """Whitespace-separated protocol lines as ``(line_number, fields)``; blank lines are skipped."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < min_fields:
                raise ManifestError(
                    f"line {number}: expected at least {min_fields} fields, got {len(fields)}: "
                    f"{line.strip()!r}",
                    path=path,
                    hint="is this the right protocol file?",
                )
            yield number, fields


def label_of(word: str, *, path: Path, line: int) -> str:
    """real/fake for a corpus's class word, or a ManifestError naming the file and line."""
    label = normalize_label(word)
    if label is None:
        raise ManifestError(
            f"line {line}: unknown class {word!r} (expected e.g. bonafide/spoof, real/fake)", path=path
        )
    return label


def index_audio(folders: Iterable[Path], extensions: Iterable[str] = (".flac",)) -> dict[str, Path]:
    """Map file stem -> path for the audio directly inside ``folders`` (first folder wins on clashes).

    One directory listing per folder: far cheaper than one stat per protocol line on 600k-file corpora.
    """
    wanted = {e.lower() for e in extensions}
    index: dict[str, Path] = {}
    for folder in folders:
        with os.scandir(folder) as entries:
            for entry in entries:
                stem, ext = os.path.splitext(entry.name)
                if ext.lower() in wanted and stem not in index:
                    index[stem] = Path(entry.path)
    return index


def walk_audio(folder: Path) -> list[Path]:
    """Every audio file under ``folder`` (recursively), sorted for a stable manifest order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def read_delimited(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A header + rows CSV whose delimiter is sniffed among , | ; and tab; rows as (line, dict)."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as handle:
        text = handle.read()
    first_line = text.split("\n", 1)[0]
    delimiter = max(",|;\t", key=first_line.count)
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise ManifestError("empty file, no header", path=path)
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ManifestError(
                f"line {number}: {len(cells)} cells but the header has {len(header)}", path=path
            )
        rows.append((number, dict(zip(header, cells, strict=True))))
    return header, rows


def require_columns(header: list[str], needed: Iterable[str], path: Path) -> None:
    missing = [c for c in needed if c not in header]
    if missing:
        raise ManifestError(
            f"line 1: missing column(s) {', '.join(missing)} (found {', '.join(header)})", path=path
        )
