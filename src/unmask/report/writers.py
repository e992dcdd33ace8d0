"""Machine-readable scan output (JSON, JSON Lines, CSV) and atomic file writing.

Writers take :class:`ScanResult` objects one at a time, so formats that can stream (JSON Lines, CSV)
emit each result as soon as it is known; JSON, which is a single document, is written at the end.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from unmask._fs import atomic_path
from unmask.detect.result import ROW_ARROW_TYPES, ScanResult, arrow_schema

MACHINE_FORMATS = ("json", "jsonl", "csv")
CSV_COLUMNS: tuple[str, ...] = tuple(ScanResult(path="").to_row())


def result_to_json(result: ScanResult) -> str:
    """One result as a single-line JSON object (the ``to_dict()`` form)."""
    return json.dumps(result.to_dict(), default=str, allow_nan=False)


def results_to_json(results: Iterable[ScanResult]) -> str:
    """A JSON list of ``to_dict()`` objects, indented for people who open it."""
    return json.dumps([r.to_dict() for r in results], indent=2, default=str, allow_nan=False)


class ResultWriter:
    """Writes results in one machine format to a text stream: ``add()`` each result, then ``close()``."""

    def __init__(self, fmt: str, stream: TextIO) -> None:
        if fmt not in MACHINE_FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; expected one of {MACHINE_FORMATS}")
        self.fmt = fmt
        self.stream = stream
        self._buffered: list[ScanResult] = []
        self._csv: csv.DictWriter | None = None
        if fmt == "csv":
            self._csv = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")
            self._csv.writeheader()

    def add(self, result: ScanResult) -> None:
        if self.fmt == "jsonl":
            self.stream.write(result_to_json(result) + "\n")
            self.stream.flush()  # a consumer piping the output sees each file as it is scored
        elif self._csv is not None:
            self._csv.writerow(csv_cells(result.to_row()))
            self.stream.flush()
        else:
            self._buffered.append(result)

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write(results_to_json(self._buffered) + "\n")
        self.stream.flush()


def csv_cells(row: dict[str, Any]) -> dict[str, Any]:
    """A row as CSV cells: None becomes an empty cell."""
    # None -> empty cell, so a spreadsheet or pandas reads a missing value rather than the text "None".
    return {key: "" if value is None else value for key, value in row.items()}


@contextmanager
def atomic_text_file(path: str | Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Open a temporary file next to ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or an interrupt leaves the previous ``path`` (or nothing) in place, never a half-written file.
    """
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding, newline="") as stream:
        yield stream


def write_parquet_results(path: str | Path, results: Iterable[ScanResult]) -> None:
    """The CSV columns (``ScanResult.to_row``) as one Parquet file, atomically, typed as the Ray engine's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([r.to_row() for r in results], schema=arrow_schema(ROW_ARROW_TYPES))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_results(path: str | Path, results: Iterable[ScanResult], fmt: str) -> None:
    """Write every result to ``path`` in ``fmt`` (json, jsonl or csv), atomically."""
    with atomic_text_file(path) as stream:
        writer = ResultWriter(fmt, stream)
        for result in results:
            writer.add(result)
        writer.close()
