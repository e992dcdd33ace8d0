"""``unmask import-model``: turn released third-party detector weights into an unmask checkpoint."""

from __future__ import annotations

from pathlib import Path

import typer

from unmask.cli.common import EXIT_USAGE, error, info
from unmask.errors import UnmaskError


def import_model(
    weights: Path = typer.Option(..., "--weights", help="The released weights file (e.g. AASIST.pth)."),
    conf: Path = typer.Option(..., "--conf", help="The released config file (e.g. AASIST.conf)."),
    out: Path = typer.Option(..., "--out", help="Where to write the unmask checkpoint (.pt)."),
    format: str = typer.Option(
        "aasist-official", "--format", help="Format of the released files: aasist-official (clovaai/aasist)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Import released detector weights; then ``unmask scan --model OUT`` scores with them."""
    from unmask.models.checkpoint import save_checkpoint
    from unmask.models.importers import IMPORTERS

    importer = IMPORTERS.get(format)
    if importer is None:
        error(f"unknown format {format!r}; known: {', '.join(IMPORTERS)}")
        raise typer.Exit(EXIT_USAGE)
    if out.exists() and not force:
        error(f"{out}: already exists (use --force to overwrite)")
        raise typer.Exit(EXIT_USAGE)
    try:
        ckpt = importer(weights, conf)
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    save_checkpoint(out, ckpt)
    info(
        f"wrote {out}: {ckpt.model.name}, {ckpt.model.size_description()}, "
        f"window {ckpt.model.window_samples} samples at {ckpt.model.sample_rate} Hz"
    )
