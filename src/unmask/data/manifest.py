"""The manifest: one CSV protocol for every corpus.

A manifest is a CSV file with the required columns ``path,label`` and any of the known optional columns
``system,source,speaker,language,domain,split,start,end``; every other column is kept as metadata and
written back unchanged. ``label`` is exactly ``real`` or ``fake`` (importers translate corpus words such
as ``bonafide``/``spoof`` with :func:`normalize_label`; the manifest itself accepts nothing else).
Relative paths are relative to the manifest's own folder, so a corpus and its manifest move together.

Cells are kept as text (an empty cell is ``""``) so that reading and writing a manifest round-trips
every value byte for byte; :class:`ManifestRow` gives typed access (``start``/``end`` as floats).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from unmask._fs import atomic_path
from unmask.errors import ManifestError

LABELS = ("real", "fake")
REQUIRED_COLUMNS = ("path", "label")
OPTIONAL_COLUMNS = ("system", "source", "speaker", "language", "domain", "split", "start", "end")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
TIME_COLUMNS = ("start", "end")

# Words corpora use for their classes. Only importers translate them; a manifest stores real/fake.
_LABEL_SYNONYMS = {
    "real": "real",
    "bonafide": "real",
    "bona-fide": "real",
    "bona_fide": "real",
    "bona fide": "real",
    "genuine": "real",
    "human": "real",
    "authentic": "real",
    "0": "real",
    "fake": "fake",
    "spoof": "fake",
    "spoofed": "fake",
    "synthetic": "fake",
    "generated": "fake",
    "deepfake": "fake",
    "ai": "fake",
    "1": "fake",
}


def normalize_label(word: str) -> str | None:
    """Map a corpus's class word (any case: ``bonafide``, ``Bona-Fide``, ``spoof``...) to real/fake.

    Returns ``None`` for a word that is not a known synonym, so the caller can name the file and line.
    """
    return _LABEL_SYNONYMS.get(str(word).strip().lower())


def _manifest_error(
    reason: str,
    *,
    path: str | Path | None,
    line: int | None = None,
    column: str | None = None,
    hint: str | None = None,
) -> ManifestError:
    """A ManifestError whose text names the file, the 1-based line and the column."""
    where = []
    if line is not None:
        where.append(f"line {line}")
    if column is not None:
        where.append(f"column '{column}'")
    text = f"{', '.join(where)}: {reason}" if where else reason
    error = ManifestError(text, path=path, hint=hint)
    error.line = line  # type: ignore[attr-defined]
    error.column = column  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row with typed fields; ``path`` is absolute (resolved against the manifest root)."""

    index: int
    path: Path
    label: str
    system: str | None = None
    source: str | None = None
    speaker: str | None = None
    language: str | None = None
    domain: str | None = None
    split: str | None = None
    start: float | None = None
    end: float | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def is_fake(self) -> bool:
        return self.label == "fake"

    @property
    def target(self) -> int:
        """Numeric label: 1 = fake (the positive class), 0 = real."""
        return int(self.label == "fake")


def _cell_text(value: Any) -> str:
    """Text for one cell: None/NaN become the empty cell, paths use forward slashes."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)


def _parse_time(text: str) -> float | None:
    return float(text) if text.strip() else None


class Manifest:
    """A validated table of media files with real/fake labels and metadata.

    Build one with :func:`read_manifest`, :meth:`from_records` or an importer from
    :mod:`unmask.data.corpora`. Rows are immutable in spirit: ``filter``/``groupby`` return new manifests.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        root: str | Path,
        *,
        origin: str | Path | None = None,
        first_line: int | None = 2,
        line_numbers: list[int] | None = None,
    ) -> None:
        """Validate ``frame`` (cells as text) whose relative paths are relative to ``root``.

        ``origin`` names the file the rows came from (for error messages); ``first_line`` is the line
        number of the first row in that file (2 for a CSV with a header), or None to number records 1..N.
        """
        self._root = _absolute(root)
        self._origin = str(origin) if origin is not None else None
        frame = frame.reset_index(drop=True)
        frame = frame.astype(object).where(frame.notna(), "")
        self._frame = frame.map(_cell_text).astype(object)
        self._lines: list[int] | None = line_numbers
        self._validate(first_line)

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], root: str | Path) -> Manifest:
        """Build a manifest from dicts with at least ``path`` and ``label``.

        Absolute paths under ``root`` are stored relative to it; other absolute paths stay absolute.
        Errors name the record by its 1-based position.
        """
        root_path = _absolute(root)
        rows = []
        for record in records:
            row = dict(record)
            if "path" in row and row["path"] is not None:
                row["path"] = _relative_if_under(Path(row["path"]), root_path)
            rows.append(row)
        frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=list(REQUIRED_COLUMNS))
        return cls(frame, root_path, first_line=None)

    @classmethod
    def concat(cls, manifests: Iterable[Manifest], root: str | Path) -> Manifest:
        """Join manifests (paths re-expressed against ``root``); columns are the union of all columns."""
        records = []
        for manifest in manifests:
            for i, record in enumerate(manifest._frame.to_dict("records")):
                record["path"] = manifest.resolve(i)
                records.append(record)
        return cls.from_records(records, root)

    # -- validation ---------------------------------------------------------------------------------
    def _where(self, position: int, first_line: int | None) -> int:
        if self._lines is not None:
            return self._lines[position]
        return position + (first_line if first_line is not None else 1)

    def _error(
        self,
        reason: str,
        position: int | None,
        first_line: int | None,
        column: str | None,
        hint: str | None = None,
    ) -> ManifestError:
        line = None if position is None else self._where(position, first_line)
        if first_line is None and line is not None:
            reason = f"record {line}: {reason}"
            line = None
        return _manifest_error(reason, path=self._origin, line=line, column=column, hint=hint)

    def _validate(self, first_line: int | None) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in self._frame.columns]
        if missing:
            raise _manifest_error(
                f"missing required column(s) {', '.join(missing)}; "
                f"found {', '.join(map(str, self._frame.columns))}",
                path=self._origin,
                line=1 if first_line is not None else None,
                hint="a manifest needs a header with at least path,label",
            )
        paths = self._frame["path"]
        empty = paths.str.strip() == ""
        if empty.any():
            position = int(empty.to_numpy().nonzero()[0][0])
            raise self._error("empty path", position, first_line, "path")
        labels = self._frame["label"]
        bad = ~labels.isin(LABELS)
        if bad.any():
            positions = bad.to_numpy().nonzero()[0]
            position = int(positions[0])
            value = labels.iloc[position]
            suggestion = normalize_label(value)
            hint = (
                f"write '{suggestion}' (importers translate corpus words; the manifest stores only real/fake)"
                if suggestion
                else "labels are exactly 'real' or 'fake'"
            )
            more = f" ({len(positions) - 1} more row(s) with bad labels)" if len(positions) > 1 else ""
            raise self._error(
                f"label {value!r} is not 'real' or 'fake'{more}", position, first_line, "label", hint
            )
        for column in TIME_COLUMNS:
            if column in self._frame.columns:
                self._check_times(column, first_line)
        if "start" in self._frame.columns and "end" in self._frame.columns:
            starts = pd.to_numeric(self._frame["start"].replace("", None), errors="coerce")
            ends = pd.to_numeric(self._frame["end"].replace("", None), errors="coerce")
            inverted = (ends <= starts).fillna(False)
            if inverted.any():
                position = int(inverted.to_numpy().nonzero()[0][0])
                raise self._error(
                    f"end {ends.iloc[position]} is not after start {starts.iloc[position]}",
                    position,
                    first_line,
                    "end",
                )

    def _check_times(self, column: str, first_line: int | None) -> None:
        for position, text in enumerate(self._frame[column]):
            if not text.strip():
                continue
            try:
                value = float(text)
            except ValueError:
                raise self._error(
                    f"{text!r} is not a number of seconds", position, first_line, column
                ) from None
            if not math.isfinite(value) or value < 0:
                raise self._error(f"{text!r} is not a time >= 0 seconds", position, first_line, column)

    # -- access -------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The folder relative paths are resolved against (the manifest file's folder)."""
        return self._root

    @property
    def origin(self) -> str | None:
        """The file this manifest was read from, if any."""
        return self._origin

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the table (cells as text, empty cell = "")."""
        return self._frame.copy()

    @property
    def columns(self) -> list[str]:
        return list(self._frame.columns)

    @property
    def metadata_columns(self) -> list[str]:
        """Columns beyond the known ones, kept as they are."""
        return [c for c in self._frame.columns if c not in KNOWN_COLUMNS]

    @property
    def labels(self) -> list[str]:
        return list(self._frame["label"])

    def targets(self) -> list[int]:
        """Numeric labels, 1 = fake, 0 = real."""
        return [int(label == "fake") for label in self._frame["label"]]

    def column(self, name: str) -> list[str]:
        """One column's text cells (all "" when the column is absent)."""
        if name not in self._frame.columns:
            return [""] * len(self)
        return list(self._frame[name])

    def resolve(self, i: int) -> Path:
        """Absolute path of row ``i`` (0-based)."""
        return self._resolve_text(self._frame["path"].iloc[i])

    def _resolve_text(self, text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() else self._root / path

    def abs_paths(self) -> list[Path]:
        """Absolute paths of every row, in order."""
        return [self._resolve_text(text) for text in self._frame["path"]]

    def line_of(self, i: int) -> int:
        """The CSV line of row ``i``: where it was read from, else where it lands when written (row 0: 2)."""
        return self._lines[i] if self._lines is not None else i + 2

    def row(self, i: int) -> ManifestRow:
        record = self._frame.iloc[i]
        meta = {c: record[c] for c in self.metadata_columns}

        def text(name: str) -> str | None:
            value = record.get(name, "")
            return value if value != "" else None

        return ManifestRow(
            index=i,
            path=self.resolve(i),
            label=record["label"],
            system=text("system"),
            source=text("source"),
            speaker=text("speaker"),
            language=text("language"),
            domain=text("domain"),
            split=text("split"),
            start=_parse_time(record.get("start", "")),
            end=_parse_time(record.get("end", "")),
            meta=meta,
        )

    def __len__(self) -> int:
        return len(self._frame)

    def __iter__(self) -> Iterator[ManifestRow]:
        for i in range(len(self)):
            yield self.row(i)

    def __getitem__(self, i: int) -> ManifestRow:
        if not -len(self) <= i < len(self):
            raise IndexError(f"row {i} out of range for a manifest of {len(self)} rows")
        return self.row(i % len(self))

    def __repr__(self) -> str:
        counts = self._frame["label"].value_counts().to_dict()
        return (
            f"Manifest({len(self)} rows, real={counts.get('real', 0)}, fake={counts.get('fake', 0)}, "
            f"root={str(self._root)!r})"
        )

    # -- selection ----------------------------------------------------------------------------------
    def _subset(self, mask: Any) -> Manifest:
        subset = Manifest.__new__(Manifest)
        subset._root = self._root
        subset._origin = self._origin
        keep = pd.Series(mask, index=self._frame.index).to_numpy(dtype=bool)
        subset._frame = self._frame[keep].reset_index(drop=True)
        subset._lines = (
            None if self._lines is None else [n for n, k in zip(self._lines, keep, strict=True) if k]
        )
        return subset

    def filter(
        self, predicate: Callable[[ManifestRow], bool] | None = None, **equals: str | Iterable[str]
    ) -> Manifest:
        """Rows matching every ``column=value`` (or ``column=[values]``) and ``predicate(row)``.

        ``manifest.filter(label="fake", split=["dev", "eval"])``. An unknown column is a ManifestError.
        """
        mask = pd.Series(True, index=self._frame.index)
        for column, wanted in equals.items():
            if column not in self._frame.columns:
                raise ManifestError(
                    f"no column '{column}' to filter on (columns: {', '.join(self.columns)})",
                    path=self._origin,
                )
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            mask &= self._frame[column].isin(values)
        if predicate is not None:
            mask &= pd.Series(
                [bool(predicate(self.row(i))) for i in range(len(self))], index=self._frame.index
            )
        return self._subset(mask)

    def groupby(self, column: str) -> dict[str, Manifest]:
        """One manifest per distinct value of ``column`` (empty cells group under ""), in sorted order."""
        if column not in self._frame.columns:
            raise ManifestError(
                f"no column '{column}' to group by (columns: {', '.join(self.columns)})", path=self._origin
            )
        return {
            value: self._subset(self._frame[column] == value)
            for value in sorted(self._frame[column].unique())
        }

    def exists(self) -> list[bool]:
        """Whether each row's file exists."""
        return [path.is_file() for path in self.abs_paths()]

    # -- output -------------------------------------------------------------------------------------
    def to_frame(self, relative_to: str | Path | None = None) -> pd.DataFrame:
        """The table with paths rewritten relative to ``relative_to`` where the file lies under it."""
        frame = self._frame.copy()
        if relative_to is not None:
            base = _absolute(relative_to)
            frame["path"] = [_relative_if_under(path, base).as_posix() for path in self.abs_paths()]
        ordered = list(REQUIRED_COLUMNS) + [c for c in frame.columns if c not in REQUIRED_COLUMNS]
        return frame[ordered]

    def write(self, path: str | Path) -> Path:
        """Write the manifest to ``path`` atomically (temp file in the same folder, then rename).

        Paths of files under the output's folder are written relative to it; others stay absolute,
        so the manifest is valid wherever it is read from. Returns the written path.
        """
        out = _absolute(path)
        frame = self.to_frame(relative_to=out.parent)
        # The project's one atomic write: the file gets the permissions a plain open() would give.
        with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
            frame.to_csv(handle, index=False, lineterminator="\n")
        return out


def _absolute(path: str | Path) -> Path:
    """Absolute, with ``..`` folded, without resolving symlinks (a linked corpus keeps its name)."""
    return Path(os.path.abspath(path))


def _relative_if_under(path: Path, base: Path) -> Path:
    """``path`` relative to ``base`` when it lies under it, else the path unchanged (absolute)."""
    if not path.is_absolute():
        return path
    path = _absolute(path)
    try:
        return path.relative_to(base)
    except ValueError:
        return path


def read_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest CSV; relative paths resolve against the file's folder.

    Raises :class:`ManifestError` naming the file, the line (1-based, header = line 1) and the column.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(
            "manifest not found" if not path.exists() else "manifest is not a file",
            path=path,
            hint="give the path of a CSV with a path,label header",
        )
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header, rows, lines = _read_cells(handle, path)
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"not UTF-8 text ({exc.reason})", path=path, hint="save the CSV as UTF-8"
        ) from exc
    except csv.Error as exc:
        raise ManifestError(f"not a well-formed CSV ({exc})", path=path) from exc
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    manifest = Manifest(frame, _absolute(path).parent, origin=path, line_numbers=lines)
    return manifest


def _read_cells(handle: Any, path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's starting line number (quoted cells may span lines)."""
    reader = csv.reader(handle)
    header = next(reader, None)
    if not header:
        raise _manifest_error(
            "empty file, no header", path=path, line=1, hint="the first line must be path,label,..."
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise _manifest_error(f"duplicate column name(s) {', '.join(duplicated)}", path=path, line=1)
    rows, lines = [], []
    line = reader.line_num + 1
    for cells in reader:
        if cells and len(cells) != len(header):
            raise _manifest_error(
                f"not a well-formed CSV row: {len(cells)} cells but the header has {len(header)}",
                path=path,
                line=line,
                hint="quote cells that contain commas",
            )
        if cells:  # a blank line is not a row
            rows.append(cells)
            lines.append(line)
        line = reader.line_num + 1
    return header, rows, lines


def missing_rows(manifest: Manifest) -> list[int]:
    """0-based indices of rows whose file does not exist."""
    return [i for i, ok in enumerate(manifest.exists()) if not ok]
