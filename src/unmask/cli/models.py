"""``unmask models``: list detectors and bundled models, show a model card, export to ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from unmask.cli.common import EXIT_USAGE, console, error, print_json
from unmask.errors import UnmaskError

models_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@models_app.callback()
def list_models(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
) -> None:
    """List detector architectures and bundled models (``unmask models show NAME`` for a model card)."""
    if ctx.invoked_subcommand is not None:
        return
    from unmask.detect.pipeline import BUNDLED_MODELS, bundled_model_path
    from unmask.models.registry import available_models

    architectures = {
        name: ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        for name, cls in available_models().items()
    }
    bundled = {name: str(bundled_model_path(name)) for name in BUNDLED_MODELS}
    if as_json:
        print_json({"architectures": architectures, "bundled": bundled})
        return
    table = Table(title="Detector architectures")
    table.add_column("name")
    table.add_column("description")
    for name, doc in architectures.items():
        table.add_row(name, doc)
    console.print(table)
    for name, path in bundled.items():
        console.print(f"bundled model [bold]{name}[/]: {path}")


@models_app.command("show")
def show(
    model: str = typer.Argument("default", help="Bundled model name or checkpoint path."),
    as_json: bool = typer.Option(False, "--json", help="The whole card as JSON."),
) -> None:
    """Print a model's card: training data, protocol, held-out EER per source, calibration."""
    from unmask.detect.pipeline import resolve_model
    from unmask.models.checkpoint import load_checkpoint

    try:
        ckpt = load_checkpoint(resolve_model(model))
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    card = {
        "architecture": ckpt.model.name,
        "config": ckpt.model.config,
        "version": ckpt.version,
        "calibration": ckpt.calibration,
        **ckpt.card,
    }
    if as_json:
        print_json(card)
        return
    console.print(
        f"[bold]{model}[/]: {ckpt.model.name}, {ckpt.model.size_description()}, "
        f"version {ckpt.version}"
    )
    for key in ("summary", "training_data", "licence", "intended_use", "calibration_method", "failure_modes"):
        if key in card:
            console.print(f"[bold]{key.replace('_', ' ')}:[/] {card[key]}")
    study = card.get("study") or {}
    if study.get("folds"):
        table = Table(title=f"Held-out EER ({study.get('protocol')})")
        for col in ("held-out group", "EER", "errors at pooled threshold", "real", "fake"):
            table.add_column(col)
        for group, fold in study["folds"].items():
            # a source with one class only has no EER, only its error rate at the pooled threshold
            eer = f"{fold['eer']:.3f}" if "eer" in fold else "-"
            errors = fold.get("errors_at_pooled_threshold")
            table.add_row(group, eer, "-" if errors is None else f"{errors:.3f}", str(fold["n_real"]),
                          str(fold["n_fake"]))
        console.print(table)
    if study.get("pooled_out_of_fold"):
        console.print(
            "pooled out-of-fold: "
            + json.dumps(
                {
                    k: round(v, 4) if isinstance(v, float) else v
                    for k, v in study["pooled_out_of_fold"].items()
                }
            )
        )


@models_app.command("export")
def export(
    model: str = typer.Argument(..., help="Bundled model name or checkpoint path."),
    onnx: Path = typer.Option(..., "--onnx", help="Write an ONNX file here (graph + calibration + card)."),
    tolerance: float = typer.Option(
        1e-3, "--tolerance", min=0.0, help="Largest |logit| difference from torch the export may show."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Export a model to ONNX for onnxruntime (``unmask scan --runtime onnx -m OUT``; docs/onnx.md).

    The export is checked before it is written: onnxruntime must reproduce the torch logits within
    ``--tolerance``. A model that cannot be exported is an error naming it and the reason (exit 2).
    """
    from unmask.detect.pipeline import resolve_model
    from unmask.models.checkpoint import load_checkpoint
    from unmask.models.onnx_export import OPSET, export_onnx

    if not onnx.parent.is_dir():
        error(f"--onnx {onnx}: folder {onnx.parent} does not exist")
        raise typer.Exit(EXIT_USAGE)
    try:
        ckpt = load_checkpoint(resolve_model(model))
        diff = export_onnx(ckpt, onnx, name=Path(model).stem, tolerance=tolerance)
    except UnmaskError as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    summary = {
        "model": model,
        "architecture": ckpt.model.name,
        "onnx": str(onnx),
        "bytes": onnx.stat().st_size,
        "opset": OPSET,
        "max_abs_logit_difference": diff,
        "tolerance": tolerance,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"wrote [bold]{onnx}[/]: {ckpt.model.name}, {summary['bytes'] / 1e6:.1f} MB, opset {OPSET}; "
        f"onnxruntime vs torch: max |logit difference| {diff:.2g} (tolerance {tolerance:g})"
    )
