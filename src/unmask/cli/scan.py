"""``unmask scan PATH...``: score media files, folders, glob patterns or a list of paths from stdin."""

from __future__ import annotations

import glob
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

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
    Settings,
    check_device,
    console,
    err_console,
    error,
    info,
    progress,
    use_scoring_threads,
)
from unmask.detect.result import ScanResult, Thresholds
from unmask.errors import UnmaskError

if TYPE_CHECKING:
    from unmask.detect.spec import DetectorSpec

MODEL_HELP = ("auto (the default): each part of a file to the detector of its content, speech to default, "
              "music to music (docs/music.md); or one model for the whole file: a bundled name (default, "
              "lfcc-gmm, music), a .pt or an .onnx path.")
# Picked from folders and glob matches; a file named explicitly is scanned whatever its extension.
MEDIA_EXTENSIONS = frozenset({
    ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".oga", ".webm", ".amr", ".mp4", ".mkv", ".mov",
    ".avi", ".wma", ".aiff", ".aif", ".caf",
})
_GLOB_CHARS = frozenset("*?[")
_VERDICT_STYLES = {"real": "green", "uncertain": "yellow", "fake": "bold red", "error": "magenta"}


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


@dataclass(frozen=True)
class ScanInput:
    """One thing to scan: a file path, or an argument that resolved to no file (``error`` says why)."""

    path: str
    error: str | None = None


# ------------------------------------------------------------------------------------ input expansion
def is_media_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


@dataclass
class _PassedOver:
    """What a folder walk left out on purpose; counted so that it can be reported."""

    files: int = 0  # no media extension
    linked_folders: int = 0  # symbolic links to folders, not followed (a link to / would scan everything)


def _folder_media(folder: str, recursive: bool, passed: _PassedOver) -> list[ScanInput]:
    """Everything under ``folder`` with a media extension (sorted by path, for reproducible runs).

    Nothing is dropped without a word: a broken link, a FIFO or an unreadable file named like media is an
    input (decoding reports why it cannot be read); a sub-folder that cannot be listed is an error row;
    files without a media extension and links to folders are counted in ``passed``.
    """
    found: list[ScanInput] = []
    pending = [folder]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError as exc:
            reason = f"folder cannot be read ({exc.strerror or exc})"
            hint = "check the folder's permissions; the files in it were not scanned"
            found.append(ScanInput(directory, str(UnmaskError(reason, path=directory, hint=hint))))
            continue
        for entry in entries:
            if _is_folder(entry):
                if entry.is_symlink():
                    passed.linked_folders += 1
                elif recursive:
                    pending.append(entry.path)
            elif is_media_file(entry.name):
                found.append(ScanInput(entry.path))
            else:
                passed.files += 1
    return sorted(found, key=lambda item: item.path)


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # cannot tell (e.g. a link loop): treat it as a file, so decoding says what is wrong
        return False


def _expand_one(arg: str, recursive: bool, passed: _PassedOver) -> list[ScanInput]:
    """Resolve one PATH (a file, a folder or a glob pattern) -> inputs; what is left out is in ``passed``."""
    if os.path.isdir(arg):
        media = _folder_media(arg, recursive, passed)
        if not media:
            reason = f"folder holds no media files (looked for {', '.join(sorted(MEDIA_EXTENSIONS))})"
            return [ScanInput(arg, str(UnmaskError(reason, path=arg)))]
        return media
    if os.path.lexists(arg):
        # A file, or a broken link, FIFO or unreadable path named explicitly: decoding says what is wrong.
        return [ScanInput(arg)]
    if _GLOB_CHARS & set(arg):
        matches = sorted(glob.glob(arg, recursive=True))
        inputs: list[ScanInput] = []
        before = passed.files
        for match in matches:
            if os.path.isdir(match):
                inputs += _folder_media(match, recursive, passed)
            elif is_media_file(match):
                inputs.append(ScanInput(match))
            else:
                passed.files += 1
        if matches and not inputs:
            reason = f"pattern matched {len(matches)} path(s) but no media files"
            return [ScanInput(arg, str(UnmaskError(reason, path=arg)))]
        if inputs:
            return inputs
        passed.files = before
    hint = "check the path; quote glob patterns so the shell does not expand them"
    return [ScanInput(arg, str(UnmaskError("no such file or pattern", path=arg, hint=hint)))]


def expand_inputs(
    args: Sequence[str], *, recursive: bool = True, stdin: TextIO | None = None
) -> list[ScanInput]:
    """Turn PATH arguments (files, folders, globs, ``-`` for a list on stdin) into inputs, in order.

    A file reached twice (e.g. by a folder and a glob) is scanned once; files passed over and duplicates
    are counted and reported, never dropped silently.
    """
    inputs: list[ScanInput] = []
    seen: set[str] = set()
    passed = _PassedOver()
    duplicates = 0
    for arg in args:
        if arg == "-":
            lines = (stdin or sys.stdin).read().splitlines()
            expanded = [_expand_one(line.strip(), recursive, passed) for line in lines if line.strip()]
        else:
            expanded = [_expand_one(arg, recursive, passed)]
        for found in expanded:
            for item in found:
                key = os.path.realpath(item.path) if item.error is None else f"\0{item.path}"
                if key in seen:
                    duplicates += 1
                    continue
                seen.add(key)
                inputs.append(item)
    if passed.files:
        info(f"passed over {passed.files} file(s) without a media extension in folders/patterns")
    if passed.linked_folders:
        info(f"passed over {passed.linked_folders} symbolic link(s) to folders (not followed; "
             "name a linked folder to scan it)")
    if duplicates:
        info(f"scanning {duplicates} file(s) reached more than once only once")
    return inputs


def scan_in_order(detector, inputs: Sequence[ScanInput]) -> Iterator[ScanResult]:
    """Results for every input, in input order; unresolved arguments become error rows."""
    scanned = detector.scan_many([item.path for item in inputs if item.error is None])
    try:
        for item in inputs:
            if item.error is not None:
                yield ScanResult.failed(item.path, item.error, model=detector.name)
            else:
                yield next(scanned)
    finally:
        scanned.close()  # stops the decoding thread if the caller stops early


# ------------------------------------------------------------------------------------ human output
def _error_reason(result: ScanResult) -> str:
    reason = result.error or ""
    prefix = f"{result.path}: "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


def display_paths(paths: Sequence[str], budget: int | None = None) -> tuple[list[str], str | None]:
    """The shortest unambiguous names for ``paths`` in a table, and the folder they are relative to.

    Each path is shown relative to the deepest folder holding all of them (returned; None when they share
    nothing but the root or the working folder), so a folder scan shows file names, not columns of prefix.
    A name still wider than ``budget`` characters becomes its shortest ending that no other path shares,
    after "…/". Names are never cut mid-component.
    """
    if not paths:
        return [], None
    normal = [os.path.normpath(p) for p in paths]
    if len({os.path.isabs(p) for p in normal}) > 1:
        normal = [os.path.abspath(p) for p in normal]
    base = os.path.commonpath([os.path.dirname(p) for p in normal])
    if base in ("", os.curdir) or os.path.dirname(base) == base:
        names, shown_base = list(paths), None
    else:
        names, shown_base = [os.path.relpath(p, base) for p in normal], base
    if budget is None or all(len(name) <= budget for name in names):
        return names, shown_base
    parts = [Path(p).parts for p in normal]
    endings: dict[int, Counter] = {}
    for i, name in enumerate(names):
        if len(name) <= budget:
            continue
        for k in range(1, len(parts[i])):
            if k not in endings:
                endings[k] = Counter(p[-k:] for p in parts)
            if endings[k][parts[i][-k:]] == 1:
                short = "…" + os.sep + os.path.join(*parts[i][-k:])
                if len(short) < len(name):
                    names[i] = short
                break
    return names, shown_base


def _verdict_cell(result: ScanResult, note: int | None) -> Text:
    label = result.verdict if note is None else f"{result.verdict} [{note}]"
    return Text(label, style=_VERDICT_STYLES[result.verdict])


def _note_numbers(results: Sequence[ScanResult]) -> list[int | None]:
    """Error rows are numbered 1, 2, ... in order; their reasons are printed below the table."""
    numbers: list[int | None] = []
    count = 0
    for r in results:
        count += bool(r.error)
        numbers.append(count if r.error else None)
    return numbers


def _value_columns(results: Sequence[ScanResult], numbers: Sequence[int | None]) -> dict[str, list[str]]:
    """Every column but the path, as plain cells (the verdict is restyled when the row is added)."""
    return {
        "verdict": [_verdict_cell(r, n).plain for r, n in zip(results, numbers, strict=True)],
        "p(fake)": ["" if r.fake_probability is None else f"{r.fake_probability:.3f}" for r in results],
        "duration": ["" if r.duration_s is None else f"{r.duration_s:.1f} s" for r in results],
        "peak window": [_peak_cell(r) for r in results],
    }


def results_table(
    results: Sequence[ScanResult],
    thresholds: Thresholds | None = None,
    *,
    width: int | None = None,
    names: Sequence[str] | None = None,
) -> tuple[Table, list[str]]:
    """Results as a Rich table with one line per file, and the notes to print below it.

    Error reasons are numbered notes below the table (``error [1]``), never a column folded over many
    lines. With a ``width``, columns that would leave no room for whole names are left out (peak window
    first, then duration) and a note says so; ``names`` are the path cells (default: the paths).
    """
    names = list(names) if names is not None else [r.path for r in results]
    numbers = _note_numbers(results)
    notes = [f"[{n}] {name}: {_error_reason(r)}"
             for name, r, n in zip(names, results, numbers, strict=True) if n is not None]
    columns = _value_columns(results, numbers)
    widest = max(map(len, names), default=0)
    left_out = []
    for optional in ("peak window", "duration"):
        if width is None or widest <= _room_for_path(width, columns):
            break
        del columns[optional]
        left_out.append(optional)
    if left_out:
        notes.append(f"({' and '.join(left_out)} left out to fit {width} columns; "
                     "--format csv or --report has every column)")
    legend = "p(fake) = fake_probability, higher = more likely fake"
    if thresholds is not None:
        real, fake = thresholds.real_below, thresholds.fake_at_or_above
        legend += f"; real < {real:g} \u2264 uncertain < {fake:g} \u2264 fake"
    notes.insert(0, legend)  # below the table, wrapped at the console's width rather than the table's
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("path", overflow="fold")  # folds only as a last resort: names are sized to fit
    for header in columns:
        table.add_column(header, no_wrap=True, justify="left" if header == "verdict" else "right")
    for row, (name, r, number) in enumerate(zip(names, results, numbers, strict=True)):
        cells = [Text(name), _verdict_cell(r, number)]  # Text, not markup: names may contain [brackets]
        table.add_row(*cells, *[cells_[row] for header, cells_ in columns.items() if header != "verdict"])
    return table, notes


def _peak_cell(result: ScanResult) -> str:
    worst = result.most_suspicious_window()
    return f"{worst.start_s:g}-{worst.end_s:g} s ({worst.fake_probability:.2f})" if worst else ""


def _room_for_path(width: int, columns: dict[str, list[str]]) -> int:
    """Characters left for the path column of a table ``width`` wide with these other columns (one space
    of padding a side and a one-character divider between columns, none at the outer edges)."""
    used = sum(max([len(header), *map(len, cells)]) for header, cells in columns.items())
    return width - used - 3 * len(columns)


def print_results(
    target: Console, results: Sequence[ScanResult], thresholds: Thresholds | None, *, shorten: bool = True
) -> None:
    """The human form of a scan: the common folder, a table of one line per file, the notes below it.

    With ``shorten`` (a terminal or a pipe) names are made to fit ``target``'s width (see
    :func:`display_paths`); without (a file), paths are shown whole, as given.
    """
    names, base = [r.path for r in results], None
    width = None
    if shorten:
        width = target.width
        budget = _room_for_path(width, _value_columns(results, _note_numbers(results)))
        names, base = display_paths(names, max(budget, 12))
        if base is not None:
            target.print(Text(f"in {base}{os.sep}"), soft_wrap=True)  # one line, whole, however long
    table, notes = results_table(results, thresholds, width=width, names=names)
    target.print(table)
    for note in notes:
        target.print(Text(note, style="magenta" if note.startswith("[") else "dim"))


def summary_line(results: Sequence[ScanResult]) -> str:
    counts = Counter(r.verdict for r in results)
    return (
        f"{len(results)} file(s): {counts['real']} real, {counts['uncertain']} uncertain, "
        f"{counts['fake']} fake, {counts['error']} error(s)"
    )


# ------------------------------------------------------------------------------------ command
def _usage_error(message: str) -> typer.Exit:
    error(message)
    return typer.Exit(EXIT_USAGE)


def _check_out_path(path: Path | None, what: str) -> None:
    if path is not None and not path.parent.is_dir():
        raise _usage_error(f"{what} {path}: folder {path.parent} does not exist")


def _load_detector(spec: DetectorSpec):
    """The Detector, loaded through the same ``DetectorSpec.build`` the Ray engine's actors use."""
    if spec.max_duration_s is not None and spec.max_duration_s <= 0:
        raise _usage_error(f"--max-duration must be positive, got {spec.max_duration_s}")
    check_device(spec.device)  # exit 2 when CUDA is asked for but missing
    try:  # the device as given: "auto" means the CPU for the onnx runtime
        return spec.build()
    except (UnmaskError, KeyError, RuntimeError) as exc:
        raise _usage_error(f"cannot load the model: {exc}") from exc


def scan(
    paths: list[str] = typer.Argument(
        ..., help="Media files, folders, glob patterns (quote them), or - to read paths from stdin.",
        show_default=False,
    ),
    model: str = typer.Option("auto", "--model", "-m", help=MODEL_HELP),
    output_format: OutputFormat | None = typer.Option(
        None, "--format", "-f", show_default=False, help="Output format (default table; jsonl with --resume)."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to FILE (atomically)."),
    resume: bool = typer.Option(
        False, "--resume",
        help="Append to --out FILE (JSON Lines), one flushed row per file, skipping files it already holds "
        "(same path, size and modification time): an interrupted scan picks up where it stopped.",
    ),
    use_hash: bool = typer.Option(
        False, "--hash", help="With --resume, match files by content hash instead of size and time."
    ),
    report: Path | None = typer.Option(None, "--report", help="Also write a self-contained HTML report."),
    window: float | None = typer.Option(
        None, "--window", help="Window length in seconds (default: the model's own; needs one --model)."
    ),
    hop: float | None = typer.Option(
        None, "--hop", help="Hop between windows in seconds (default: half a window)."
    ),
    real_below: float = typer.Option(0.3, "--real-below", help="Verdict real when fake_probability < P."),
    fake_at: float = typer.Option(0.7, "--fake-at", help="Verdict fake when fake_probability >= P."),
    batch_size: int = typer.Option(
        32, "--batch-size", min=1,
        help="Windows scored per model call (fewer for long windows: at most 128 s of audio)."),
    threads: int = typer.Option(0, "--threads", min=0, help=THREADS_HELP),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    runtime: str = typer.Option("auto", "--runtime", help=RUNTIME_HELP),
    recursive: bool = typer.Option(True, "--recursive/--no-recursive", help="Descend into sub-folders."),
    max_duration: float | None = typer.Option(
        None, "--max-duration", help="Refuse files longer than S seconds (default: 4 hours)."
    ),
    music_model: str | None = typer.Option(
        None, "--music-model", help="With --model auto: the music detector for music parts (default: the "
        "bundled music model; none: music parts are found and said, not judged)."
    ),
    engine: Engine = typer.Option(Engine.local, "--engine", help=ENGINE_HELP),
    address: str | None = typer.Option(None, "--address", help=ADDRESS_HELP),
    workers: int = typer.Option(0, "--workers", "-j", min=0, help=WORKERS_HELP),
) -> None:
    """Score media files: fake_probability in [0, 1] (higher = more likely fake) and a verdict per file.

    Exit code 0 when every input was scanned, 1 when some could not be (they are reported as error rows;
    the others are still scored), 2 for bad usage.
    """
    try:
        thresholds = Thresholds(real_below=real_below, fake_at_or_above=fake_at)
    except ValueError as exc:
        raise _usage_error(f"bad --real-below/--fake-at: {exc}") from exc
    _check_out_path(out, "--out")
    _check_out_path(report, "--report")
    if engine == Engine.ray:
        fmt = _ray_format(output_format, out, use_hash)
    else:
        if address is not None or workers:
            raise _usage_error("--address and --workers apply to --engine ray")
        fmt = _output_format(output_format, out, resume, use_hash)
    if music_model is not None and model != "auto":
        raise _usage_error("--music-model applies to --model auto")
    if model == "auto" and (window is not None or hop is not None):
        raise _usage_error("--window and --hop need one model for the whole file: routing (--model auto, the "
                           "default) keeps each detector's own windows; add --model default (speech), "
                           "--model music or --model PATH")
    spec = _detector_spec(model, device, runtime, thresholds, batch_size, max_duration, window, hop, threads,
                          music_model)
    # On Ray the model is also loaded here, on the CPU (a GPU is the workers' business): a bad model or
    # bad window settings fail now, before Ray starts.
    driver_device = "cpu" if engine == Engine.ray else device
    detector = _load_detector(replace(spec, device=driver_device, window_s=None, hop_s=None))
    detector = _apply_windows(detector, window, hop)
    use_scoring_threads(threads)

    inputs = expand_inputs(paths, recursive=recursive)
    if not inputs:
        raise _usage_error("no inputs to scan (stdin held no paths)")

    if engine == Engine.ray:
        workers_spec = replace(spec, name=detector.name).for_workers()
        results = _run_ray_scan(workers_spec, inputs, address, workers, out, fmt, use_hash)
        if out is None and fmt != "table":
            from unmask.report.writers import ResultWriter

            writer = ResultWriter(fmt, sys.stdout)
            for result in results:
                writer.add(result)
            writer.close()
    elif resume:
        results = _run_resumable_scan(detector, inputs, out, use_hash)
    else:
        results = _run_scan(detector, inputs, fmt, out)
    if fmt == "table":
        _show_table(results, thresholds, out)
    elif out is not None:
        info(f"wrote {fmt} to {out}")
    info(summary_line(results))
    if report is not None:
        from unmask.report.scan_html import write_scan_report

        note = f"window {detector.window_s:g} s, hop {detector.hop_s:g} s, {detector.settings.aggregation}"
        write_scan_report(
            report, results, model=detector.name, model_version=detector.version, thresholds=thresholds,
            limits=detector.settings.limits, settings_note=note,
        )
        info(f"wrote report to {report}")
    raise typer.Exit(EXIT_SOME_FAILED if any(not r.ok for r in results) else EXIT_OK)


def _apply_windows(detector, window: float | None, hop: float | None):
    if window is not None and window <= 0:
        raise _usage_error(f"--window must be positive, got {window}")
    if hop is not None and hop <= 0:
        raise _usage_error(f"--hop must be positive, got {hop}")
    effective_window = window or detector.window_s
    effective_hop = hop or effective_window / 2
    if effective_hop > effective_window:
        raise _usage_error(
            f"--hop ({effective_hop:g} s) must not exceed the window ({effective_window:g} s): "
            "audio between windows would never be scored"
        )
    try:
        return detector.with_settings(window_s=window, hop_s=hop)
    except UnmaskError as exc:  # --model auto keeps each routed detector's own windows
        raise _usage_error(str(exc)) from exc


def _output_format(chosen: OutputFormat | None, out: Path | None, resume: bool, use_hash: bool) -> str:
    if use_hash and not resume:
        raise _usage_error("--hash only applies with --resume (or --engine ray)")
    if chosen == OutputFormat.parquet and (out is None or resume):
        raise _usage_error("--format parquet needs --out FILE (and cannot be appended to: no --resume)")
    if not resume:
        return (chosen or OutputFormat.table).value
    if out is None:
        raise _usage_error("--resume needs --out FILE: the output it appends to and resumes from")
    if chosen not in (None, OutputFormat.jsonl):
        raise _usage_error(f"--resume writes JSON Lines (a row per file as it is scored), not {chosen.value}")
    return OutputFormat.jsonl.value


def _ray_format(chosen: OutputFormat | None, out: Path | None, use_hash: bool) -> str:
    """On Ray, --out is always resumable (--resume is implied), so --hash needs only --out."""
    from unmask.cli.ray_scan import format_for

    if use_hash and out is None:
        raise _usage_error("--hash needs --out FILE: it says which files the output already holds")
    if out is not None and out.is_dir():
        raise _usage_error(f"--out {out} is a folder; give the file to write (e.g. {out / 'scores.parquet'})")
    try:
        return format_for(chosen.value if chosen else None, out)
    except UnmaskError as exc:
        raise _usage_error(str(exc)) from exc


def _detector_spec(model: str, device: str, runtime: str, thresholds: Thresholds, batch_size: int,
                   max_duration: float | None, window: float | None, hop: float | None, threads: int,
                   music_model: str | None) -> DetectorSpec:
    """The scan's flags as one DetectorSpec: what the Detector is built from here and on Ray's actors."""
    from unmask.detect.spec import DetectorSpec

    return DetectorSpec(
        model=model, device=device, runtime=runtime, real_below=thresholds.real_below,
        fake_at_or_above=thresholds.fake_at_or_above, batch_size=batch_size, max_duration_s=max_duration,
        window_s=window, hop_s=hop, threads=max(1, threads), music_model=music_model,
    )


def _run_ray_scan(spec: DetectorSpec, inputs: Sequence[ScanInput], address: str | None, workers: int,
                  out: Path | None, fmt: str, use_hash: bool) -> list[ScanResult]:
    """Score on Ray (unmask.cli.ray_scan): with --out, resumable; shards merged into --out at the end."""
    from unmask.cli.ray_scan import run_ray_scan
    from unmask.engine.ray_engine import RayOptions

    try:
        return run_ray_scan(spec, inputs, RayOptions(address=address, workers=workers), out, fmt, use_hash,
                            log=info)
    except UnmaskError as exc:
        raise _usage_error(str(exc)) from exc


def _progress_bar():
    bar = progress()
    # Rich prints a blank line when a bar stops on a non-interactive stderr (a log, a pipe): skip the bar.
    bar.disable = bar.disable or not err_console.is_interactive
    return bar


def _run_resumable_scan(detector, inputs: Sequence[ScanInput], out: Path, use_hash: bool) -> list[ScanResult]:
    """Scan what ``out`` does not hold yet, appending each result as it arrives (see unmask.cli.resume).

    Returns every result: those already held, then the new ones."""
    from unmask.cli.resume import ResumableOutput

    try:
        output = ResumableOutput(out, use_hash=use_hash)
    except UnmaskError as exc:
        raise _usage_error(str(exc)) from exc
    todo_paths, done, stale = output.plan([item.path for item in inputs])
    todo_set = set(todo_paths)
    todo = [item for item in inputs if item.path in todo_set]
    if done or stale or output.state.torn:
        info(f"resuming {out}: {len(done)} of {len(inputs)} file(s) already scanned"
             + (f", {stale} changed since and scanned again" if stale else "")
             + (", a row cut short by the interruption dropped" if output.state.torn else ""))
    results = list(done)
    output.open(rewrite=bool(stale or output.state.needs_rewrite))
    try:
        with _progress_bar() as bar:
            task = bar.add_task("scanning", total=len(todo))
            for result in scan_in_order(detector, todo):
                output.add(result)
                results.append(result)
                bar.advance(task)
    finally:
        output.close()
    return results


def _run_scan(detector, inputs: Sequence[ScanInput], fmt: str, out: Path | None) -> list[ScanResult]:
    """Scan every input; machine formats are written as results arrive (to ``out`` or stdout)."""
    from unmask.report.writers import ResultWriter, atomic_text_file

    results: list[ScanResult] = []
    if fmt == "parquet":  # one columnar file, written at the end
        from unmask.report.writers import write_parquet_results

        results = list(scan_in_order(detector, inputs))
        write_parquet_results(out, results)
        return results
    with ExitStack() as stack:
        writer = None
        if fmt != "table":
            stream = stack.enter_context(atomic_text_file(out)) if out is not None else sys.stdout
            writer = ResultWriter(fmt, stream)
        bar = stack.enter_context(_progress_bar())
        task = bar.add_task("scanning", total=len(inputs))
        for result in scan_in_order(detector, inputs):
            results.append(result)
            if writer is not None:
                writer.add(result)
            bar.advance(task)
        if writer is not None:
            writer.close()
    return results


def _show_table(results: Sequence[ScanResult], thresholds: Thresholds, out: Path | None) -> None:
    if out is not None:
        from unmask.report.writers import atomic_text_file

        with atomic_text_file(out) as stream:  # a file has no width: whole paths, columns sized to content
            file_console = Console(file=stream, width=10_000, color_system=None, force_terminal=False)
            print_results(file_console, results, thresholds, shorten=False)
        info(f"wrote table to {out}")
    elif not Settings.quiet:
        print_results(console, results, thresholds)
    else:  # --quiet hides the table, but an input that failed is never silent
        for r in results:
            if not r.ok:
                error(r.error or r.path)
