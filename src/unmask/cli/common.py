"""Shared CLI plumbing: exit codes, console, JSON output, error reporting."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Exit codes are part of the public contract: scripts branch on them.
EXIT_OK = 0
EXIT_SOME_FAILED = 1  # the command ran, but some inputs were reported and skipped
EXIT_USAGE = 2  # bad usage / unusable arguments (Click uses 2 for usage errors too)

console = Console()
err_console = Console(stderr=True)


class Settings:
    """Process-wide CLI flags set by the root callback (``--quiet``)."""

    quiet: bool = False


def info(message: str) -> None:
    """Print a human-oriented message unless ``--quiet`` is set."""
    if not Settings.quiet:
        err_console.print(message)


def error(message: str) -> None:
    """Print an error to stderr; never silenced by ``--quiet``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)


def print_json(payload: Any) -> None:
    """Write machine-readable output to stdout (no Rich markup, stable key order)."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def progress(transient: bool = True):
    """A Rich progress bar that goes quiet with ``--quiet`` and when stderr is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=Settings.quiet or not err_console.is_terminal,
    )
