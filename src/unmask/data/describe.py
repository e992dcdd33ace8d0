"""Describe a manifest: counts and hours per label/system/source, rates, durations, duplicates.

Durations come from ``end - start`` where a row is a segment, else a ``duration_s``/``duration`` column,
else from probing the file's header; sample rates from an ``original_sr``/``sample_rate``/``sr`` column,
else from probing. The description says which (``duration_from``, ``sample_rate_from``), because a
manifest's column may describe the original recording rather than the stored file.

Duplicates are found by hashing file bytes (BLAKE2b): identical files under different rows inflate
scores when they land in train and test, and identical files with different labels are label noise.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unmask._fs import file_blake2b
from unmask.data.manifest import LABELS, Manifest
from unmask.errors import ManifestError, MediaError

DURATION_COLUMNS = ("duration_s", "duration")
SAMPLE_RATE_COLUMNS = ("sample_rate", "original_sr", "sr", "sampling_rate")
DURATION_BINS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0, 300.0, math.inf)
DEFAULT_GROUPS = ("source", "system")
_WORKERS = 4  # probing and hashing wait on the disk; a few threads overlap that wait


class ProgressLike:
    """What :func:`describe` needs from a progress bar (``rich.progress.Progress`` fits)."""

    def add_task(self, description: str, total: float | None = None) -> Any: ...  # pragma: no cover

    def advance(self, task_id: Any, advance: float = 1) -> None: ...  # pragma: no cover


@dataclass
class GroupStats:
    """Counts and hours of one group value, split by label."""

    value: str
    files: int = 0
    hours: float = 0.0
    by_label: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    hours_by_label: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LABELS, 0.0))


@dataclass
class Description(Mapping[str, Any]):
    """The summary of one manifest; a read-only mapping (``d["labels"]``) and ``to_dict()`` for JSON."""

    manifest: str | None
    files: int
    hours: float
    duration_from: str
    sample_rate_from: str
    labels: dict[str, GroupStats]
    groups: dict[str, list[GroupStats]]
    sample_rates: dict[str, int]
    durations: dict[str, int]
    duration_summary: dict[str, float | None]
    missing: list[dict[str, Any]]
    unreadable: list[dict[str, Any]]
    duplicates: list[dict[str, Any]] | None
    conflicting_duplicates: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


def content_hash(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b (128-bit) hex digest of the file's bytes."""
    return file_blake2b(path, chunk_size=chunk_size)


def _first_column(manifest: Manifest, names: Iterable[str]) -> str | None:
    return next((name for name in names if name in manifest.columns), None)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@contextmanager
def _stage(progress: ProgressLike | None, description: str, total: int) -> Iterator[Callable[[], None]]:
    if progress is None or total == 0:
        yield lambda: None
        return
    task = progress.add_task(description, total=total)
    yield lambda: progress.advance(task)


def _map_with_progress(
    function: Callable[[Path], Any], paths: list[Path], progress: ProgressLike | None, description: str
) -> list[Any]:
    """``function`` over ``paths`` in a few threads, in order; exceptions are returned, not raised."""

    def guarded(path: Path) -> Any:
        try:
            return function(path)
        except (OSError, MediaError) as exc:
            return exc

    results = []
    with _stage(progress, description, len(paths)) as advance, ThreadPoolExecutor(_WORKERS) as pool:
        for result in pool.map(guarded, paths):
            results.append(result)
            advance()
    return results


def _duration_bin(seconds: float) -> str:
    for low, high in zip(DURATION_BINS, DURATION_BINS[1:], strict=False):
        if low <= seconds < high:
            return f"{low:g}-{high:g} s" if math.isfinite(high) else f">= {low:g} s"
    return f">= {DURATION_BINS[-2]:g} s"


def describe(
    manifest: Manifest,
    *,
    hash_content: bool = True,
    by: Iterable[str] = (),
    progress: ProgressLike | None = None,
) -> Description:
    """Summarise ``manifest``: see the module docstring. ``by`` adds group-by columns to source/system.

    Missing files are listed (and count toward label totals but not hours); files that exist but
    cannot be probed are listed as unreadable. ``progress`` shows probing/hashing progress.
    """
    by = [c for c in by if c]
    unknown = [c for c in by if c not in manifest.columns]
    if unknown:
        raise ManifestError(
            f"no column(s) {', '.join(unknown)} to group by (columns: {', '.join(manifest.columns)})",
            path=manifest.origin,
        )
    paths = manifest.abs_paths()
    exists = [p.is_file() for p in paths]
    durations: list[float | None] = [None] * len(manifest)
    rates: list[int | None] = [None] * len(manifest)

    duration_column = _first_column(manifest, DURATION_COLUMNS)
    rate_column = _first_column(manifest, SAMPLE_RATE_COLUMNS)
    starts, ends = manifest.column("start"), manifest.column("end")
    for i in range(len(manifest)):
        start, end = _number(starts[i]), _number(ends[i])
        if end is not None:
            durations[i] = end - (start or 0.0)
        elif duration_column:
            durations[i] = _number(manifest.column(duration_column)[i])
        if rate_column:
            rate = _number(manifest.column(rate_column)[i])
            rates[i] = int(rate) if rate else None

    # Probe only what the columns did not give, and only files that exist.
    to_probe = [i for i in range(len(manifest)) if exists[i] and (durations[i] is None or rates[i] is None)]
    unreadable = []
    probed_duration = probed_rate = False
    if to_probe:
        from unmask.io import probe_audio

        infos = _map_with_progress(probe_audio, [paths[i] for i in to_probe], progress, "probing headers")
        for i, info in zip(to_probe, infos, strict=True):
            if isinstance(info, Exception):
                unreadable.append({"line": manifest.line_of(i), "path": str(paths[i]), "reason": str(info)})
                continue
            if durations[i] is None and info.duration_s is not None and math.isfinite(info.duration_s):
                durations[i] = info.duration_s
                probed_duration = True
            if rates[i] is None:
                rates[i] = int(info.sample_rate)
                probed_rate = True

    labels = manifest.labels
    label_stats = {label: GroupStats(label) for label in LABELS}
    groups = {
        column: _group_stats(manifest.column(column), labels, durations)
        for column in [*DEFAULT_GROUPS, *by]
        if column in manifest.columns
    }
    for i, label in enumerate(labels):
        stats = label_stats[label]
        stats.files += 1
        stats.by_label[label] += 1
        seconds = durations[i] or 0.0
        stats.hours += seconds / 3600
        stats.hours_by_label[label] += seconds / 3600

    known = [d for d in durations if d is not None]
    missing = [
        {"line": manifest.line_of(i), "path": str(paths[i]), "label": labels[i]}
        for i in range(len(manifest))
        if not exists[i]
    ]
    duplicates = conflicts = None
    if hash_content:
        duplicates, conflicts = _duplicates(manifest, paths, exists, progress)
    return Description(
        manifest=manifest.origin,
        files=len(manifest),
        hours=sum(known) / 3600,
        duration_from=_provenance(duration_column, probed_duration, bool(starts and any(ends))),
        sample_rate_from=_provenance(rate_column, probed_rate, False),
        labels=label_stats,
        groups=groups,
        sample_rates={str(rate): n for rate, n in sorted(Counter(r for r in rates if r).items())},
        durations=_histogram(known),
        duration_summary=_summary(known),
        missing=missing,
        unreadable=unreadable,
        duplicates=duplicates,
        conflicting_duplicates=conflicts,
    )


def _provenance(column: str | None, probed: bool, segments: bool) -> str:
    sources = []
    if segments:
        sources.append("start/end")
    if column:
        sources.append(f"column {column}")
    if probed:
        sources.append("probed headers")
    return " + ".join(sources) or "none"


def _group_stats(values: list[str], labels: list[str], durations: list[float | None]) -> list[GroupStats]:
    stats: dict[str, GroupStats] = {}
    for value, label, seconds in zip(values, labels, durations, strict=True):
        group = stats.setdefault(value, GroupStats(value))
        group.files += 1
        group.by_label[label] += 1
        group.hours += (seconds or 0.0) / 3600
        group.hours_by_label[label] += (seconds or 0.0) / 3600
    return sorted(stats.values(), key=lambda g: (-g.files, g.value))


def _histogram(durations: list[float]) -> dict[str, int]:
    counts = Counter(_duration_bin(d) for d in durations)
    order = [_duration_bin(low) for low in DURATION_BINS[:-1]]
    return {name: counts[name] for name in order if counts[name]}


def _summary(durations: list[float]) -> dict[str, float | None]:
    if not durations:
        return {"min": None, "median": None, "mean": None, "max": None}
    ordered = sorted(durations)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {"min": ordered[0], "median": median, "mean": sum(ordered) / len(ordered), "max": ordered[-1]}


def _duplicates(
    manifest: Manifest, paths: list[Path], exists: list[bool], progress: ProgressLike | None
) -> tuple[list[dict[str, Any]], int]:
    present = [i for i in range(len(manifest)) if exists[i]]
    # Only files whose size collides can be identical: hash those alone.
    by_size: dict[int, list[int]] = defaultdict(list)
    for i in present:
        by_size[paths[i].stat().st_size].append(i)
    candidates = [i for rows in by_size.values() if len(rows) > 1 for i in rows]
    digests = _map_with_progress(content_hash, [paths[i] for i in candidates], progress, "hashing files")
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, digest in zip(candidates, digests, strict=True):
        if isinstance(digest, str):
            by_hash[digest].append(i)
    labels = manifest.labels
    groups = []
    for digest, rows in sorted(by_hash.items(), key=lambda item: item[1][0]):
        if len(rows) < 2:
            continue
        # The same path listed twice is a duplicated row, not two copies of one recording.
        group_labels = sorted({labels[i] for i in rows})
        groups.append(
            {
                "hash": digest,
                "rows": [
                    {"line": manifest.line_of(i), "path": str(paths[i]), "label": labels[i]} for i in rows
                ],
                "labels": group_labels,
                "conflicting": len(group_labels) > 1,
            }
        )
    return groups, sum(g["conflicting"] for g in groups)
