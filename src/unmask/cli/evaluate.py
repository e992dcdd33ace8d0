"""``unmask evaluate MANIFEST``: score every clip, print EER/minDCF/AUC/F1/ECE pooled and per group."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from unmask._fs import atomic_path
from unmask.cli.common import (
    ADDRESS_HELP,
    DEVICE_HELP,
    ENGINE_HELP,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    RUNTIME_HELP,
    THREADS_HELP,
    WORKERS_HELP,
    Engine,
    check_device,
    console,
    error,
    info,
    print_json,
    progress,
    use_scoring_threads,
)
from unmask.errors import UnmaskError

if TYPE_CHECKING:
    from unmask.data.manifest import Manifest
    from unmask.detect.result import ScanResult

SHOWN_METRICS = ("n_real", "n_fake", "eer", "min_dcf", "auc", "f1", "ece")


def evaluate(
    manifest: Path = typer.Argument(..., help="Manifest CSV (path,label[,system,source,...])."),
    model: str = typer.Option(
        "default", "--model", "-m", help="Bundled model name, .pt or .onnx path, or auto (speech and music "
        "parts to their own detectors, docs/music.md)."),
    by: str = typer.Option("", "--by", help="Comma-separated manifest columns to break metrics down by."),
    out: Path | None = typer.Option(
        None, "--out", help="Write per-clip scores (manifest columns + fake_probability) to this CSV."
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="fake_probability >= this counts as fake for F1."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics tables as JSON."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    runtime: str = typer.Option("auto", "--runtime", help=RUNTIME_HELP),
    engine: Engine = typer.Option(Engine.local, "--engine", help=ENGINE_HELP),
    address: str | None = typer.Option(None, "--address", help=ADDRESS_HELP),
    workers: int = typer.Option(0, "--workers", "-j", min=0, help=WORKERS_HELP),
) -> None:
    """Score a labelled manifest with a model and report metrics, pooled and per group."""
    from unmask.data.manifest import read_manifest
    from unmask.detect.spec import DetectorSpec
    from unmask.eval.metrics import summarize, summarize_by

    if engine == Engine.local:
        check_device(device)  # exit 2 when CUDA is asked for but missing; on Ray, the workers' business
    if engine == Engine.local and (address is not None or workers):
        error("--address and --workers apply to --engine ray")
        raise typer.Exit(EXIT_USAGE)
    try:
        parsed = read_manifest(manifest)
        # runtime "auto": the CPU for onnx. On Ray the model is loaded here on the CPU too: a bad one fails
        # now. Built from a DetectorSpec as `unmask scan` builds it, so --model auto routes here too.
        detector = DetectorSpec(model=model, device="cpu" if engine == Engine.ray else device,
                                runtime=runtime).build()
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    groups = [c.strip() for c in by.split(",") if c.strip()]
    missing = [c for c in groups if c not in parsed.columns]
    if missing:
        error(f"{manifest}: no column(s) {', '.join(missing)}; columns are {', '.join(parsed.columns)}")
        raise typer.Exit(EXIT_USAGE)

    use_scoring_threads(threads)
    if engine == Engine.ray:
        results = _score_manifest_on_ray(detector.name, model, device, runtime, threads, parsed, address,
                                         workers)
    else:
        results = _score_manifest(detector, parsed)
    frame = parsed.to_frame(relative_to=out.parent if out else None).reset_index(drop=True)
    frame["fake_probability"] = [r.fake_probability for r in results]
    frame["verdict"] = [r.verdict for r in results]
    frame["error"] = [r.error for r in results]
    failed = frame[frame["error"].notna()]
    for _, row in failed.iterrows():
        error(str(row["error"]))
    if out:
        _write_csv_atomic(frame, out)
        info(f"scores written to {out}")

    scored = frame[frame["error"].isna()]
    # Each per-column table starts with the pooled row; with no --by, the pooled row stands alone.
    tables = {column: summarize_by(scored, column, threshold=threshold) for column in groups}
    if not tables:
        tables["pooled"] = pd.DataFrame([summarize(scored["fake_probability"], scored["label"], threshold)])
    if as_json:
        print_json(
            {name: t.to_dict(orient="records") for name, t in tables.items()}
            | {"model": detector.name, "n_failed": len(failed)}
        )
    else:
        for name, table in tables.items():
            print_metrics_table(console, table, title=f"{detector.name} on {manifest.name}: {name}")
        if len(failed):
            console.print(
                f"[yellow]{len(failed)} clip(s) could not be scored and are left out of the metrics[/]"
            )
    raise typer.Exit(EXIT_SOME_FAILED if len(failed) else EXIT_OK)


def _score_manifest(detector, manifest) -> list:
    """One result per row, in row order: whole files are batched through ``scan_many``; rows with
    ``start``/``end`` score only that segment."""
    rows = list(manifest)
    segment = [row.start is not None or row.end is not None for row in rows]
    whole = iter(detector.scan_many([row.path for row, seg in zip(rows, segment, strict=True) if not seg]))
    results = []
    with progress() as bar:
        task = bar.add_task("scoring", total=len(rows))
        for row, seg in zip(rows, segment, strict=True):
            results.append(detector.scan_segment(row.path, row.start, row.end) if seg else next(whole))
            bar.advance(task)
    return results


def _score_manifest_on_ray(name: str, model: str, device: str, runtime: str, threads: int, manifest: Manifest,
                           address: str | None, workers: int) -> list[ScanResult]:
    """The same rows scored by Ray Data actors (unmask.engine.ray_engine), in row order. Manifest paths
    are absolute already; ``for_workers`` makes a model file's path absolute too."""
    from unmask.detect.spec import DetectorSpec
    from unmask.engine.ray_engine import RayOptions, collect

    spec = DetectorSpec(model=model, device=device, runtime=runtime, threads=max(1, threads),
                        name=name).for_workers()
    items = [{"path": str(row.path), "row": i, "start": row.start, "end": row.end}
             for i, row in enumerate(manifest)]
    try:
        rows = collect(spec, items, RayOptions(address=address, workers=workers))
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    from unmask.detect.result import ScanResult

    return [ScanResult.from_dict(json.loads(row["result"])) for row in rows]


# Shown per group, with the header each gets in the table (the JSON keeps every metric under its own name).
METRIC_HEADERS = {"n_real": "real", "n_fake": "fake", "eer": "EER", "min_dcf": "minDCF", "auc": "AUC",
                  "f1": "F1", "ece": "ECE"}
METRIC_LEGEND = ("real/fake: clips per class; EER; minDCF (ASVspoof 5 costs); AUC; F1 at --threshold; "
                 "ECE (15 bins)")


def print_metrics_table(target: Console, frame: pd.DataFrame, title: str) -> None:
    """A metrics table that keeps one line per group at ``target``'s width: the title and legend are lines of
    their own, group names are never wrapped, and a name too long to fit is cut with a key (``[1]``) and
    printed whole below the table."""
    table, keys = _rich_table(frame, width=target.width)
    target.print(Text(title, style="bold"))
    target.print(table)
    target.print(Text(METRIC_LEGEND, style="dim"))
    for key, name in keys:
        target.print(Text(f"{key} {name}"))


def _rich_table(frame: pd.DataFrame, width: int | None = None) -> tuple[Table, list[tuple[str, str]]]:
    label_cols = [
        c
        for c in frame.columns
        if c not in SHOWN_METRICS and c != "note" and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    metric_cols = [c for c in SHOWN_METRICS if c in frame.columns]
    cells = {c: [_fmt(v) for v in frame[c]] for c in label_cols + metric_cols}
    headers = {c: METRIC_HEADERS.get(c, c) for c in cells}
    widths = {c: max([len(headers[c]), *map(len, cells[c])]) for c in cells}
    keys: list[tuple[str, str]] = []
    if width is not None and label_cols:
        # one space of padding a side, a one-character divider between columns, no outer edges
        room = width - sum(widths[c] for c in cells if c != label_cols[0]) - 3 * (len(cells) - 1)
        room = max(room, 12)
        first = cells[label_cols[0]]
        for i, name in enumerate(first):
            if len(name) > room:
                key = f"[{len(keys) + 1}]"
                keys.append((key, name))
                first[i] = name[: room - len(key) - 2] + "\u2026 " + key
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in label_cols + metric_cols:
        table.add_column(headers[column], justify="left" if column in label_cols else "right", no_wrap=True)
    for row in range(len(frame)):
        table.add_row(*[Text(cells[c][row]) for c in label_cols + metric_cols])
    return table, keys


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def _write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
