"""``unmask evaluate MANIFEST``: score every clip, print EER/minDCF/AUC/F1/ECE pooled and per group."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from unmask._fs import atomic_path
from unmask.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    THREADS_HELP,
    console,
    error,
    info,
    print_json,
    progress,
    use_scoring_threads,
)
from unmask.errors import UnmaskError

SHOWN_METRICS = ("n_real", "n_fake", "eer", "min_dcf", "auc", "f1", "ece")


def evaluate(
    manifest: Path = typer.Argument(..., help="Manifest CSV (path,label[,system,source,...])."),
    model: str = typer.Option("default", "--model", "-m", help="Bundled model name or checkpoint path."),
    by: str = typer.Option("", "--by", help="Comma-separated manifest columns to break metrics down by."),
    out: Path | None = typer.Option(
        None, "--out", help="Write per-clip scores (manifest columns + fake_probability) to this CSV."
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="fake_probability >= this counts as fake for F1."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics tables as JSON."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
) -> None:
    """Score a labelled manifest with a model and report metrics, pooled and per group."""
    from unmask.data.manifest import read_manifest
    from unmask.detect.pipeline import Detector
    from unmask.eval.metrics import summarize, summarize_by

    try:
        parsed = read_manifest(manifest)
        detector = Detector.load(model)
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    groups = [c.strip() for c in by.split(",") if c.strip()]
    missing = [c for c in groups if c not in parsed.columns]
    if missing:
        error(f"{manifest}: no column(s) {', '.join(missing)}; columns are {', '.join(parsed.columns)}")
        raise typer.Exit(EXIT_USAGE)

    use_scoring_threads(threads)
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
            console.print(_rich_table(table, title=f"{detector.name} on {manifest.name}: {name}"))
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


def _rich_table(frame: pd.DataFrame, title: str) -> Table:
    table = Table(title=title)
    label_cols = [
        c
        for c in frame.columns
        if c not in SHOWN_METRICS and c != "note" and not pd.api.types.is_numeric_dtype(frame[c])
    ]
    columns = label_cols + [c for c in SHOWN_METRICS if c in frame.columns]
    for column in columns:
        table.add_column(
            column,
            justify="left" if column in label_cols else "right",
            overflow="fold" if column in label_cols else "ellipsis",
        )
    for _, row in frame.iterrows():
        table.add_row(*[_fmt(row[c]) for c in columns])
    return table


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
