"""``unmask data synthesize``: make training fakes offline (copy-synthesis of real clips, or classic TTS).

Recipes: ``copy`` (DSP vocoders, or any named systems), ``vocoders`` (every neural vocoder/codec trained in
``--vocoders DIR`` plus world, griffinlim and lpc) and ``tts``. The recipe is the first argument or
``--recipe``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from unmask.cli.common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, error, info, print_json, progress
from unmask.errors import UnmaskError

RECIPES = ("copy", "vocoders", "tts")


def synthesize(
    recipe_argument: str | None = typer.Argument(
        None, metavar="RECIPE",
        help="copy: resynthesise the real clips of --real through vocoders; vocoders: through every trained "
             "neural vocoder in --vocoders plus world, griffinlim, lpc; tts: speak texts with the installed "
             "TTS engines."),
    recipe_option: str | None = typer.Option(None, "--recipe", help="The recipe, as an option."),
    vocoders: Path | None = typer.Option(
        None, "--vocoders",
        help="Folder of trained vocoder checkpoints (unmask data train-vocoders); needed by the vocoders "
             "recipe and by neural systems (melgan, hifigan, ...) in copy."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (FLAC files + manifest.csv)."),
    real: Path | None = typer.Option(None, "--real", help="Manifest whose real clips are copied (copy)."),
    systems: str | None = typer.Option(
        None, "--systems", "-s",
        help="Comma list. copy: world,world-coarse,griffinlim,griffinlim-mel,lpc (default all), with "
             "--vocoders also melgan,hifigan,upsample-conv,subpixel,istft,codec-rvq-2/4/8; "
             "vocoders: default every trained one + world,griffinlim,lpc; "
             "tts: espeak-ng,flite,festival (default: every installed engine)."),
    texts: Path | None = typer.Option(None, "--texts", help="tts: one sentence per line (default: 30 Harvard "
                                                             "sentences)."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="At most this many clips (copy) or texts (tts)."),
    domain: str | None = typer.Option(None, "--domain", help="copy: only rows of this domain (e.g. speech)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives the same files."),
    workers: int = typer.Option(2, "--workers", "-j", min=1, help="Worker processes."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Write fake clips and their manifest; failed clips are listed (failures.csv) and the exit code is 1."""
    from unmask.data.synthesize import (
        HARVARD_SENTENCES,
        copy_system_names,
        missing_engines,
        neural_system_names,
        read_texts,
        synthesize_copy,
        synthesize_tts,
        vocoder_recipe_systems,
    )

    if recipe_argument and recipe_option and recipe_argument != recipe_option:
        error(f"two recipes given: {recipe_argument!r} and --recipe {recipe_option!r}")
        raise typer.Exit(EXIT_USAGE)
    recipe = recipe_argument or recipe_option
    if recipe not in RECIPES:
        error(f"unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}" if recipe
              else f"give a recipe: {', '.join(RECIPES)}")
        raise typer.Exit(EXIT_USAGE)
    names = [name.strip() for name in systems.split(",") if name.strip()] if systems else None
    try:
        with progress() as bar:
            task = bar.add_task(f"synthesize {recipe}", total=None)

            def advance(outcome) -> None:
                bar.advance(task)
                for failure in outcome.failures:
                    error(f"{failure.item}: {failure.system or 'input'}: {failure.reason}")

            if recipe in ("copy", "vocoders"):
                if real is None:
                    error(f"recipe {recipe} needs --real MANIFEST (the real clips to resynthesise)")
                    raise typer.Exit(EXIT_USAGE)
                if recipe == "vocoders":
                    if vocoders is None:
                        error("recipe vocoders needs --vocoders DIR (made by `unmask data train-vocoders`)")
                        raise typer.Exit(EXIT_USAGE)
                    names = names or vocoder_recipe_systems(vocoders)
                known = copy_system_names() + neural_system_names()
                unknown = [n for n in names or [] if n not in known]
                if unknown:
                    error(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(known)}")
                    raise typer.Exit(EXIT_USAGE)
                from unmask.data.manifest import read_manifest

                manifest = read_manifest(real)
                if domain:
                    manifest = manifest.filter(domain=domain)
                n_real = len(manifest.filter(label="real"))
                bar.update(task, total=min(n_real, limit) if limit else n_real)
                result = synthesize_copy(manifest, out, names, seed=seed, workers=workers, limit=limit,
                                         on_item=advance, vocoders=vocoders)
            else:
                missing = missing_engines()
                if missing:
                    info("TTS engines not installed (skipped): "
                         + "; ".join(f"{e} (apt-get install {pkgs})" for e, pkgs in missing.items()))
                sentences = read_texts(texts) if texts else list(HARVARD_SENTENCES)
                sentences = sentences[:limit] if limit else sentences
                result = synthesize_tts(sentences, out, names, seed=seed, workers=workers, on_item=advance)
    except (UnmaskError, ValueError) as exc:  # ValueError: a neural system named without --vocoders
        error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    summary = {
        "manifest": str(result.manifest_path),
        "rows": len(result.manifest),
        "computed": result.computed,
        "reused": result.reused,
        "failed": len(result.failures),
        "failures": str(result.manifest_path.parent / "failures.csv") if result.failures else None,
    }
    if as_json:
        print_json(summary)
    else:
        info(f"wrote {summary['manifest']}: {summary['rows']} rows ({result.computed} new, "
             f"{result.reused} already there, {len(result.failures)} failed)")
        if result.failures:
            info(f"failures listed in {summary['failures']}")
    raise typer.Exit(EXIT_SOME_FAILED if result.failures else EXIT_OK)
