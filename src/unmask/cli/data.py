"""``unmask data ...``: import corpora into manifests, describe them, check their files, train vocoders.

Exit codes: 0 ok; 1 some inputs failed (missing or unreadable files, rows skipped); 2 bad usage
(unknown format, unreadable manifest, a corpus folder whose layout is not the format's).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from unmask.cli.common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    console,
    error,
    info,
    print_json,
    progress,
)
from unmask.errors import ManifestError

data_app = typer.Typer(no_args_is_help=True, help="Import, describe and check manifests.")

_LIST_LIMIT = 10  # rows of missing/unreadable/duplicate listings shown before "... and N more"


def _load(manifest_path: Path):
    """Read a manifest or exit 2 with the reason."""
    from unmask.data.manifest import read_manifest

    try:
        return read_manifest(manifest_path)
    except ManifestError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None


def _formats_table() -> Table:
    from unmask.data.corpora import CORPORA

    table = Table(title="corpus formats", show_lines=False)
    table.add_column("format", style="bold", no_wrap=True)
    table.add_column("options")
    table.add_column("layout", overflow="fold")
    for name, importer in CORPORA.items():
        options = [
            f"--{o} {'|'.join(importer.choices[o])}" if o in importer.choices else f"--{o} PATH"
            for o in importer.options
        ]
        table.add_row(name, "\n".join(options), importer.description)
    return table


@data_app.command("formats")
def formats(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List the corpus formats `unmask data import` understands."""
    from unmask.data.corpora import CORPORA

    if as_json:
        print_json(
            [
                {
                    "format": name,
                    "description": imp.description,
                    "options": list(imp.options),
                    "choices": {k: list(v) for k, v in imp.choices.items()},
                }
                for name, imp in CORPORA.items()
            ]
        )
    else:
        console.print(_formats_table())


@data_app.command("import")
def import_corpus(
    corpus_format: str | None = typer.Argument(None, metavar="FORMAT", help="Corpus format (see --list)."),
    root: Path | None = typer.Argument(None, help="Folder the corpus was unpacked into."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Manifest CSV to write (atomically)."),
    split: str | None = typer.Option(None, "--split", help="Keep one split (train/dev/eval/test...)."),
    subset: str | None = typer.Option(None, "--subset", help="Corpus-specific part (FoR version, phase...)."),
    reals: list[Path] | None = typer.Option(None, "--reals", help="Folder of the bona fide source corpus."),
    skip_missing: bool = typer.Option(
        False, "--skip-missing", help="Leave out rows whose audio is missing (counted and reported)."
    ),
    list_formats: bool = typer.Option(False, "--list", help="List the formats and exit."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Turn a corpus's official layout into a manifest CSV."""
    from unmask.data.corpora import MissingAudioError, get_importer

    if list_formats:
        console.print(_formats_table())
        raise typer.Exit(EXIT_OK)
    if corpus_format is None or root is None or out is None:
        error("give FORMAT ROOT and --out MANIFEST.csv (or --list to see the formats)")
        raise typer.Exit(EXIT_USAGE)
    try:
        importer = get_importer(corpus_format)
    except KeyError as exc:
        error(exc.args[0])
        raise typer.Exit(EXIT_USAGE) from None
    try:
        with progress() as bar:
            bar.add_task(f"reading {importer.name} layout", total=None)
            result = importer(root, skip_missing=skip_missing, split=split, subset=subset, reals=reals)
    except ValueError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except MissingAudioError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_SOME_FAILED) from None
    except ManifestError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    written = result.manifest.write(out)
    counts = {label: result.manifest.labels.count(label) for label in ("real", "fake")}
    for warning in result.warnings:
        info(f"[yellow]warning:[/] {warning}")
    for path in result.missing[:_LIST_LIMIT]:
        info(f"  missing: {path}")
    if len(result.missing) > _LIST_LIMIT:
        info(f"  ... and {len(result.missing) - _LIST_LIMIT} more missing")
    if as_json:
        print_json(
            {
                "format": importer.name,
                "manifest": str(written),
                "rows": len(result.manifest),
                **counts,
                "skipped_missing": len(result.missing),
                "warnings": result.warnings,
            }
        )
    else:
        console.print(
            f"wrote {written}: {len(result.manifest)} rows ({counts['real']} real, {counts['fake']} fake)"
            + (f", skipped {len(result.missing)} with missing audio" if result.missing else ""),
            highlight=False,
        )
    raise typer.Exit(EXIT_SOME_FAILED if result.missing else EXIT_OK)


def _hours(value: float) -> str:
    return f"{value:.2f}"


def _group_table(title: str, column: str, groups, top: int) -> Table:
    table = Table(title=title)
    table.add_column(column, overflow="fold")
    for header in ("real", "fake", "files", "hours"):
        table.add_column(header, justify="right")
    shown = groups if top <= 0 else groups[:top]
    for group in shown:
        table.add_row(
            group.value or "(empty)",
            str(group.by_label["real"]),
            str(group.by_label["fake"]),
            str(group.files),
            _hours(group.hours),
        )
    if len(shown) < len(groups):
        rest = groups[len(shown) :]
        table.add_row(
            f"... {len(rest)} more",
            str(sum(g.by_label["real"] for g in rest)),
            str(sum(g.by_label["fake"] for g in rest)),
            str(sum(g.files for g in rest)),
            _hours(sum(g.hours for g in rest)),
            style="dim",
        )
    return table


def _histogram_table(title: str, column: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column(column)
    table.add_column("files", justify="right")
    table.add_column("", no_wrap=True)
    peak = max(counts.values(), default=0)
    for key, count in counts.items():
        table.add_row(key, str(count), "#" * max(1, round(30 * count / peak)) if peak else "")
    return table


def _print_description(description, top: int) -> None:
    console.print(
        f"[bold]{description.manifest or 'manifest'}[/]: {description.files} files, "
        f"{description.hours:.2f} h (durations from {description.duration_from})",
        highlight=False,
    )
    labels = Table(title="per label")
    labels.add_column("label")
    labels.add_column("files", justify="right")
    labels.add_column("hours", justify="right")
    for label, stats in description.labels.items():
        labels.add_row(label, str(stats.files), _hours(stats.hours))
    console.print(labels)
    for column, groups in description.groups.items():
        console.print(_group_table(f"per {column} x label", column, groups, top))
    console.print(
        _histogram_table(
            f"sample rates (from {description.sample_rate_from})", "Hz", description.sample_rates
        )
    )
    console.print(_histogram_table("durations", "seconds", description.durations))
    summary = description.duration_summary
    if summary["median"] is not None:
        console.print(
            f"duration min {summary['min']:.2f} s, median {summary['median']:.2f} s, "
            f"max {summary['max']:.2f} s",
            highlight=False,
        )
    if description.duplicates is None:
        console.print("duplicates: not checked (--no-hash)")
    elif not description.duplicates:
        console.print("duplicates: none (no two files have identical bytes)")
    else:
        table = Table(
            title=f"{len(description.duplicates)} groups of identical files, "
            f"{description.conflicting_duplicates} with conflicting labels"
        )
        table.add_column("lines")
        table.add_column("labels")
        table.add_column("paths", overflow="fold")
        for group in description.duplicates[:_LIST_LIMIT]:
            style = "bold red" if group["conflicting"] else None
            table.add_row(
                ", ".join(str(r["line"]) for r in group["rows"]),
                "/".join(group["labels"]),
                "\n".join(r["path"] for r in group["rows"]),
                style=style,
            )
        console.print(table)
    for kind in ("missing", "unreadable"):
        rows = getattr(description, kind)
        if rows:
            error(f"{len(rows)} {kind} file(s)")
            for row in rows[:_LIST_LIMIT]:
                error(
                    f"  line {row['line']}: {row['path']}" + (f": {row['reason']}" if "reason" in row else "")
                )
            if len(rows) > _LIST_LIMIT:
                error(f"  ... and {len(rows) - _LIST_LIMIT} more")


@data_app.command("describe")
def describe_cmd(
    manifest_path: Path = typer.Argument(..., metavar="MANIFEST", help="Manifest CSV."),
    by: str = typer.Option("", "--by", help="Extra group-by columns, comma separated (e.g. split,language)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    no_hash: bool = typer.Option(False, "--no-hash", help="Skip duplicate detection by content hash."),
    top: int = typer.Option(30, "--top", help="Rows per group table (0 = all)."),
) -> None:
    """Counts and hours per label/source/system, sample rates, durations, duplicates, missing files."""
    from unmask.data.describe import describe

    manifest = _load(manifest_path)
    columns = [c.strip() for c in by.split(",") if c.strip()]
    try:
        with progress() as bar:
            description = describe(manifest, hash_content=not no_hash, by=columns, progress=bar)
    except ManifestError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        print_json(description.to_dict())
    else:
        _print_description(description, top)
    failed = description.missing or description.unreadable
    raise typer.Exit(EXIT_SOME_FAILED if failed else EXIT_OK)


@data_app.command("check")
def check_cmd(
    manifest_path: Path = typer.Argument(..., metavar="MANIFEST", help="Manifest CSV."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check every file exists and its header decodes (and segments lie inside it); exit 1 on bad rows."""
    from unmask.data.check import check_manifest

    manifest = _load(manifest_path)
    with progress() as bar:
        problems = check_manifest(manifest, progress=bar)
    if as_json:
        print_json(
            {
                "manifest": str(manifest_path),
                "rows": len(manifest),
                "bad": len(problems),
                "problems": [p.__dict__ for p in problems],
            }
        )
    elif problems:
        table = Table(title=f"{len(problems)} of {len(manifest)} rows failed")
        table.add_column("line", justify="right")
        table.add_column("path", overflow="fold")
        table.add_column("reason", overflow="fold")
        for problem in problems:
            table.add_row(str(problem.line), problem.path, problem.reason)
        console.print(table)
    else:
        console.print(f"all {len(manifest)} files readable", highlight=False)
    raise typer.Exit(EXIT_SOME_FAILED if problems else EXIT_OK)


@data_app.command("train-vocoders")
def train_vocoders_cmd(
    real: Path = typer.Option(..., "--real", help="Manifest whose real clips the vocoders learn from."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the checkpoints (<family>.pt)."),
    families: str | None = typer.Option(
        None,
        "--families",
        help="Comma list of melgan,hifigan,upsample-conv,subpixel,istft,codec-rvq (default all).",
    ),
    minutes: float = typer.Option(30.0, "--minutes", min=0.0, help="Training time per family."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Stop after this many steps (if sooner)."),
    seed: int = typer.Option(0, "--seed", help="Seed for weights and segment draws."),
    domain: str | None = typer.Option(None, "--domain", help="Only real rows of this domain (e.g. speech)."),
    max_clips: int | None = typer.Option(None, "--max-clips", min=1, help="At most this many real clips."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Segments per step (default 8)."),
    segment_samples: int | None = typer.Option(
        None, "--segment-samples", min=1280, help="Segment length, a multiple of 1280 (default 10240)."
    ),
    threads: int = typer.Option(2, "--threads", min=1, help="Torch CPU threads."),
    force: bool = typer.Option(False, "--force", help="Retrain families whose checkpoint already exists."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Train small neural vocoders/codecs on real speech, one checkpoint per family (resumes if interrupted).

    Existing checkpoints are kept (use --force to retrain). Exit 1 if a family failed to train.
    """
    from dataclasses import replace

    from unmask.data.synthesize.vocoders import (
        TrainSettings,
        checkpoint_path,
        family_names,
        load_training_audio,
        train_vocoder,
    )
    from unmask.errors import UnmaskError

    chosen = [f.strip() for f in families.split(",") if f.strip()] if families else family_names()
    unknown = [f for f in chosen if f not in family_names()]
    if unknown:
        error(f"unknown vocoder family {', '.join(unknown)}; known: {', '.join(family_names())}")
        raise typer.Exit(EXIT_USAGE)
    if not minutes and steps is None:
        error("give a training budget: --minutes above 0, or --steps")
        raise typer.Exit(EXIT_USAGE)
    settings = TrainSettings()
    if batch_size:
        settings = replace(settings, batch_size=batch_size)
    if segment_samples:
        if segment_samples % 1280:
            error(f"--segment-samples must be a multiple of 1280, got {segment_samples}")
            raise typer.Exit(EXIT_USAGE)
        settings = replace(settings, segment_samples=segment_samples)
    try:
        with progress() as bar:
            bar.add_task("loading real clips", total=None)
            clips, unreadable = load_training_audio(_load(real), domain=domain, max_clips=max_clips)
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    for reason in unreadable[:_LIST_LIMIT]:
        error(f"  skipped: {reason}")
    info(
        f"{len(clips)} real clips, {sum(c.size for c in clips) / 16000 / 60:.1f} min of audio"
        + (f"; {len(unreadable)} unreadable or silent, skipped" if unreadable else "")
    )
    rows, failed = [], []
    for family in chosen:
        path = checkpoint_path(out, family)
        if path.is_file() and not force:
            info(f"{family}: {path} already trained (--force retrains it)")
            rows.append({"family": family, "checkpoint": str(path), "status": "kept"})
            continue
        if force:
            path.unlink(missing_ok=True)
        try:
            with progress() as bar:
                task = bar.add_task(f"training {family}", total=None)
                report = train_vocoder(
                    family,
                    clips,
                    path,
                    minutes=minutes or None,
                    steps=steps,
                    seed=seed,
                    settings=settings,
                    threads=threads,
                    on_progress=lambda step, seconds, losses, task=task, bar=bar, family=family: bar.update(
                        task,
                        description=f"training {family}: step {step}, {seconds:.0f} s, "
                        f"reconstruction {losses['reconstruction']:.3f}",
                    ),
                )
        except UnmaskError as exc:
            error(f"{family}: {exc}")
            failed.append(family)
            rows.append({"family": family, "checkpoint": str(path), "status": "failed", "reason": str(exc)})
            continue
        rows.append(
            {
                "family": family,
                "checkpoint": str(report.path),
                "status": "trained",
                "parameters": report.parameters,
                "size_bytes": report.size_bytes,
                "steps": report.steps,
                "seconds": round(report.seconds, 1),
                "steps_per_s": round(report.steps_per_s, 3),
                "validation_mel_l1": report.validation_mel_l1,
            }
        )
    if as_json:
        print_json({"out": str(out), "families": rows})
    else:
        table = Table(title=f"vocoders in {out}")
        for header in ("family", "status", "params", "size MB", "steps", "time s", "steps/s", "val mel L1"):
            table.add_column(header, justify="left" if header in ("family", "status") else "right")
        for row in rows:
            mel = row.get("validation_mel_l1")
            table.add_row(
                row["family"],
                row["status"],
                f"{row.get('parameters', '')}",
                f"{row['size_bytes'] / 1e6:.2f}" if "size_bytes" in row else "",
                f"{row.get('steps', '')}",
                f"{row.get('seconds', '')}",
                f"{row.get('steps_per_s', '')}",
                f"{mel:.3f}" if mel is not None else "",
            )
        console.print(table)
    raise typer.Exit(EXIT_SOME_FAILED if failed else EXIT_OK)
