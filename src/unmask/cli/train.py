"""``unmask train RECIPE.yaml``: folds on held-out sources, calibration, final model, model card."""

from __future__ import annotations

from pathlib import Path

import typer

from unmask.cli.common import DEVICE_HELP, EXIT_USAGE, check_device, error, info, print_json


def train(
    recipe: Path = typer.Argument(..., help="Recipe YAML (see recipes/default/recipe.yaml)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Run folder (default: the recipe's out_dir)."),
    export: Path | None = typer.Option(None, "--export", help="Also write the final checkpoint here."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue an interrupted run."),
    as_json: bool = typer.Option(False, "--json", help="Print the study summary as JSON."),
    device: str | None = typer.Option(
        None, "--device", help=DEVICE_HELP + " Default: the recipe's trainer.device (auto)."
    ),
    workers: int | None = typer.Option(
        None, "-j", "--workers", min=1,
        help="Feature-cache recipes: back-ends trained in parallel processes (default: the recipe's "
        "feature_cache.workers, else 1).",
    ),
) -> None:
    """Train a detector from a recipe; interrupted runs resume where they stopped."""
    from unmask.errors import UnmaskError
    from unmask.train.recipe import Recipe, run_recipe

    try:
        parsed = Recipe.from_yaml(recipe)
    except (UnmaskError, TypeError) as exc:
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    if out_dir is not None:
        parsed.out_dir = out_dir
    if export is not None:
        parsed.export = export
    if device is not None:
        parsed.trainer.device = device
    if workers is not None and parsed.feature_cache:
        parsed.feature_cache["workers"] = workers
    check_device(parsed.trainer.device)  # exit 2 before any work when CUDA is asked for but missing
    summary = run_recipe(parsed, log=info, resume=resume)
    if as_json:
        print_json(summary)
    else:
        for group, fold in summary["folds"].items():
            figures = [f"EER {fold['eer']:.4f}"] if "eer" in fold else []  # single-class sources have none
            if "errors_at_pooled_threshold" in fold:
                figures.append(f"errors at the pooled threshold {fold['errors_at_pooled_threshold']:.4f}")
            typer.echo(f"held-out {group}: {', '.join(figures)}")
        pooled = summary.get("pooled_out_of_fold")
        if pooled:
            typer.echo(
                f"pooled out-of-fold EER {pooled['eer']:.4f}, ECE {pooled.get('ece', float('nan')):.4f}"
            )
        if parsed.train_final:
            typer.echo(f"model written to {parsed.out_dir / 'model.pt'}")
        typer.echo(f"study written to {parsed.out_dir / 'study.json'}")
