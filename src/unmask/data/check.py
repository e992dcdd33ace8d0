"""Check that every manifest row points at a readable media file (and a segment inside it)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from unmask.data.manifest import Manifest
from unmask.errors import MediaError

_WORKERS = 4
_TOLERANCE_S = 0.05  # container durations are rounded; do not flag a segment ending within 50 ms of the end


@dataclass(frozen=True)
class RowProblem:
    """A row that failed the check: its CSV line, path and the reason."""

    line: int
    path: str
    label: str
    reason: str


def _check_row(path: Path, start: float | None, end: float | None) -> str | None:
    from unmask.io import probe_audio

    if not path.exists():
        return "file not found"
    try:
        info = probe_audio(path)
    except MediaError as exc:
        return exc.reason
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if info.duration_s is not None and info.duration_s == info.duration_s:  # not NaN
        if info.duration_s <= 0:
            return "empty audio (duration 0)"
        if end is not None and end > info.duration_s + _TOLERANCE_S:
            return f"segment end {end:g} s is past the file's end ({info.duration_s:.3f} s)"
        if start is not None and start >= info.duration_s:
            return f"segment start {start:g} s is past the file's end ({info.duration_s:.3f} s)"
    return None


def check_manifest(manifest: Manifest, *, progress=None) -> list[RowProblem]:
    """Probe every row's file header; return the rows that are missing, unreadable or out of range.

    ``progress`` is an optional ``rich.progress.Progress``-like object (``add_task``/``advance``).
    """
    rows = list(manifest)
    task = progress.add_task("checking files", total=len(rows)) if progress is not None and rows else None
    problems = []
    with ThreadPoolExecutor(_WORKERS) as pool:
        reasons = pool.map(lambda row: _check_row(row.path, row.start, row.end), rows)
        for row, reason in zip(rows, reasons, strict=True):
            if task is not None:
                progress.advance(task)
            if reason is not None:
                problems.append(RowProblem(manifest.line_of(row.index), str(row.path), row.label, reason))
    return problems
