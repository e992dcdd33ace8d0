"""The ``unmask`` command."""

from __future__ import annotations

import platform

import typer

from unmask import __version__
from unmask._runtime import keep_freed_memory
from unmask.cli.common import Settings, print_json

app = typer.Typer(
    name="unmask",
    help="Tell real media from deepfakes. Scores: fake_probability in [0, 1], higher = more likely fake.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print results and errors."),
) -> None:
    Settings.quiet = quiet
    keep_freed_memory()  # every unmask command is a batch job: reuse freed memory (see unmask._runtime)


@app.command()
def version(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Print unmask's version and the versions of the libraries it runs on."""
    import av
    import numpy
    import torch

    versions = {
        "unmask": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "av": av.__version__,
        "numpy": numpy.__version__,
    }
    if as_json:
        print_json(versions)
    else:
        for name, value in versions.items():
            typer.echo(f"{name} {value}")


def _mount_subcommands() -> None:
    from unmask.cli.bench import bench, report
    from unmask.cli.data import data_app
    from unmask.cli.evaluate import evaluate
    from unmask.cli.import_model import import_model
    from unmask.cli.models import models_app
    from unmask.cli.scan import scan
    from unmask.cli.serve import serve_app
    from unmask.cli.synthesize import synthesize
    from unmask.cli.train import train

    app.command(name="scan")(scan)
    app.command(name="evaluate")(evaluate)
    app.command(name="train")(train)
    app.command(name="import-model")(import_model)
    app.command(name="bench")(bench)
    app.command(name="report")(report)
    app.add_typer(models_app, name="models", help="List detectors and bundled models; show model cards.")
    data_app.command(name="synthesize")(synthesize)
    app.add_typer(data_app, name="data", help="Import, describe, check and synthesize manifests.")
    app.add_typer(serve_app, name="serve", help="HTTP API, web page and scoring workers; API keys.")


_mount_subcommands()


if __name__ == "__main__":
    app()
