"""``unmask bench CONFIG.yaml`` and ``unmask report RUN``: benchmark detectors, then write the report."""

from __future__ import annotations

from pathlib import Path

import typer

from unmask.cli.common import (
    ADDRESS_HELP,
    DEVICE_HELP,
    ENGINE_HELP,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Engine,
    check_device,
    error,
    info,
    print_json,
)
from unmask.errors import UnmaskError


def bench(
    config: Path = typer.Argument(..., help="Bench YAML: datasets, protocols, detectors, corruptions."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Run directory (split CSVs, config, default store). Default: the config's out_dir or runs/NAME.",
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        help="SQLAlchemy URL of the results store. Default: sqlite:///RUN_DIR/results.sqlite; "
        "postgresql+psycopg://user@host/db works too.",
    ),
    workers: int = typer.Option(
        1, "--workers", "-j", "-w", min=0,
        help="Cells computed in parallel: processes, or with --engine ray Ray tasks (0 = one per CPU).",
    ),
    max_cells: int | None = typer.Option(
        None, "--max-cells", min=1, help="Stop after this many cells; a later run resumes with the rest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    engine: Engine = typer.Option(Engine.local, "--engine", help=ENGINE_HELP),
    address: str | None = typer.Option(None, "--address", help=ADDRESS_HELP),
) -> None:
    """Score every detector x split x corruption cell; finished cells are kept, so a rerun resumes."""
    from unmask.eval.bench import load_config, run_bench

    # exit 2 when CUDA is asked for but missing; on Ray the device is the workers' business
    target = check_device(device) if engine == Engine.local else device
    if engine == Engine.local and (address is not None or workers < 1):
        error("--address and --workers 0 apply to --engine ray")
        raise typer.Exit(EXIT_USAGE)
    ray_options = None
    if engine == Engine.ray:
        from unmask.engine.ray_engine import RayOptions

        ray_options = RayOptions(address=address, workers=workers)
    try:
        parsed = load_config(config)
        outcome = run_bench(
            parsed, run_dir=out, store_url=store, workers=workers, max_cells=max_cells, log=info,
            device=str(target), engine=engine.value, ray_options=ray_options,
        )  # fmt: skip
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    summary = {
        "run": outcome.run,
        "run_dir": str(outcome.run_dir),
        "store": outcome.store_url,
        "cells": outcome.planned,
        "already_done": outcome.skipped,
        "computed": len(outcome.computed),
        "failed": [{"cell": vars(key), "error": message} for key, message in outcome.failed],
        "failed_clips": outcome.failed_clips,
        "remaining": outcome.remaining,
    }
    if as_json:
        print_json(summary)
    else:
        info(
            f"run {outcome.run}: {len(outcome.computed)} cell(s) computed, {outcome.skipped} already done, "
            f"{len(outcome.failed)} failed, {outcome.remaining} left; store {outcome.store_url}"
        )
        if outcome.failed_clips:
            info(
                f"[yellow]{outcome.failed_clips} clip(s) could not be scored; "
                "they are left out of the metrics[/]"
            )
        info(f"report: unmask report {outcome.run_dir}" + (f" --store '{store}'" if store else ""))
    raise typer.Exit(EXIT_SOME_FAILED if outcome.failed or outcome.failed_clips else EXIT_OK)


def report(
    run: str = typer.Argument(..., help="A bench run directory (its results.sqlite) or a store URL."),
    run_name: str | None = typer.Option(
        None, "--run", help="Run name in the store (needed if it holds several)."
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        help="Store URL, when RUN is a directory but the results are elsewhere (e.g. PostgreSQL).",
    ),
    out: Path | None = typer.Option(None, "--out", help="Report folder. Default: RUN_DIR/report."),
) -> None:
    """Write report.md and a self-contained report.html (+ PNG figures) for a bench run."""
    from unmask.eval.bench import ResultStore, default_url
    from unmask.report.bench_report import write_bench_report

    is_url = "://" in run
    if is_url:
        url = run
        if out is None:
            error("give --out when RUN is a store URL")
            raise typer.Exit(EXIT_USAGE)
    else:
        run_dir = Path(run)
        if not run_dir.is_dir():
            error(f"{run_dir}: not a run directory")
            raise typer.Exit(EXIT_USAGE)
        url = store or default_url(run_dir)
        if not store and not (run_dir / "results.sqlite").is_file():
            error(
                f"{run_dir}: no results.sqlite here; give --store URL if the results are in another database"
            )
            raise typer.Exit(EXIT_USAGE)
        out = out or run_dir / "report"
    try:
        results = ResultStore(url)
        try:
            names = results.run_names()
            name = run_name or (names[0] if len(names) == 1 else None)
            if name is None:
                raise UnmaskError(
                    f"{results.safe_url} holds {len(names)} runs; choose one with --run",
                    hint=f"runs: {', '.join(names) or '(none)'}",
                )
            written = write_bench_report(results, name, out)
        finally:
            results.close()
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    info(f"wrote {written['markdown']} and {written['html']} ({len(written['figures'])} figures)")
