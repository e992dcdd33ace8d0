"""Shared CLI plumbing: exit codes, console, JSON output, error reporting."""

from __future__ import annotations

import json
import sys
from enum import Enum
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


def scoring_threads(requested: int = 0) -> int:
    """Torch threads for scanning: ``requested``, or with 0 one fewer than the CPU cores (at least 1).

    The decoder runs in its own thread beside the model; leaving it a core measured faster than giving
    torch every core on a 2-core machine (benchmarks/bench_scan.py: 1,100-1,300x vs 850-930x real time
    for the default model), because the two otherwise spin-wait for each other.
    """
    import os

    if requested < 0:
        raise ValueError(f"threads must be >= 0 (0 = automatic), got {requested}")
    return requested or max(1, (os.cpu_count() or 1) - 1)


def use_scoring_threads(requested: int = 0) -> int:
    """Set torch's intra-op threads to :func:`scoring_threads` and return the number."""
    import torch

    threads = scoring_threads(requested)
    torch.set_num_threads(threads)
    return threads


THREADS_HELP = "Torch threads for the model; 0 = one fewer than the CPU cores (the decoder gets one)."
RUNTIME_HELP = "torch, onnx (onnxruntime, CPU; docs/onnx.md) or auto (onnx for .onnx files, else torch)."


def check_device(requested: str):
    """``--device`` -> a ``torch.device``; an unknown or unavailable device is a usage error (exit 2)."""
    import typer

    from unmask._device import resolve_device
    from unmask.errors import UnmaskError

    try:
        return resolve_device(requested)
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc


# The same text as unmask._device.DEVICE_HELP (not imported from there: that would import torch).
DEVICE_HELP = "Where the model runs: auto (a CUDA GPU if torch sees one, else the CPU), cpu, cuda or cuda:N."


class Engine(str, Enum):
    """Where scoring runs: ``local`` (this process) or ``ray`` (unmask.engine.ray_engine)."""

    local = "local"
    ray = "ray"


ENGINE_HELP = "local (this process) or ray (Ray Data actors on a Ray cluster; docs/scale.md)."
ADDRESS_HELP = ("With --engine ray: auto (the cluster this machine is in) or ray://HOST:10001; "
                "default: start Ray on this machine.")
WORKERS_HELP = "With --engine ray: scoring actors, each loading the model once (0 = one per CPU)."
