"""Turn one held-out back-end of a feature-cache study into a checkpoint, with the manifest it never saw.

Usage: .venv/bin/python scripts/export_fold.py recipes/default/recipe.yaml holdout/zero-shot-tts \\
           --out runs/default-zero-shot.pt --manifest runs/default-zero-shot-test.csv

A fold's (``folds/<source>``) or hold-out split's (``holdout/<name>``) ``backend.pt`` becomes a full
checkpoint (the study's out-of-fold calibration, a card naming what was held out), so ``unmask
evaluate`` and ``unmask bench`` can measure it, corruptions included, on data it never saw: an honest
corruption table for a model whose final version was trained on everything. ``--manifest`` writes the
held-out clips (absolute paths) as a manifest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch

from unmask import __version__
from unmask._fs import path_slug
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.train.recipe import Recipe


def held_out_rows(recipe: Recipe, which: str) -> pd.DataFrame:
    """The clips ``which`` never saw, as the study recorded them: a hold-out split's ``test.csv``, or a
    fold's source in ``out_of_fold.csv`` (not re-derived here, so the two cannot disagree)."""
    kind, name = which.split("/", 1)
    if kind == "holdout":
        recorded = recipe.out_dir / which / "test.csv"
        if not recorded.is_file():
            raise SystemExit(f"{recorded} is missing: re-run the recipe (it records each split's test set)")
        return pd.read_csv(recorded)
    oof = pd.read_csv(recipe.out_dir / "out_of_fold.csv")
    return oof[[path_slug(s) == name for s in oof["source"]]][["path", "label", "source", "system"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", type=Path)
    parser.add_argument("which", help="folds/<source slug> or holdout/<split slug>")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--manifest", type=Path)
    args = parser.parse_args()
    recipe = Recipe.from_yaml(args.recipe)
    study = json.loads((recipe.out_dir / "study.json").read_text())
    model = build_model(recipe.trainer.model, recipe.trainer.model_config)
    model.load_state_dict(torch.load(recipe.out_dir / args.which / "backend.pt", weights_only=True))
    card = {**recipe.card, "summary": f"{recipe.card.get('summary', '')} HELD-OUT MODEL of the study: "
            f"trained without {args.which}; for measuring on it, not for use.",
            "held_out": args.which, "study": {"pooled_out_of_fold": study["pooled_out_of_fold"]}}
    save_checkpoint(args.out, Checkpoint(model.eval(), study["calibration"], card, version=__version__))
    print(f"wrote {args.out}")
    if args.manifest:
        rows = held_out_rows(recipe, args.which)
        rows.to_csv(args.manifest, index=False)
        print(f"wrote {args.manifest}: {len(rows)} held-out clips")


if __name__ == "__main__":
    main()
