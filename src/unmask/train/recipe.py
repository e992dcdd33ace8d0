"""A training recipe from one YAML file: data, held-out protocol, augmentation, model, export.

``leave_one_out: source`` trains one fold per source (that source held out for validation and
measured), pools the out-of-fold file logits to fit the calibration honestly (every calibration
score comes from a model that never saw that clip's source), then trains the final model on all
sources for ``final_epochs`` and writes one checkpoint with the calibration and a model card. Folds
train for a fixed number of epochs: the held-out source is the test set, so it must not pick the epoch.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from unmask import __version__
from unmask._fs import path_slug
from unmask.data.manifest import Manifest, read_manifest
from unmask.detect.calibration import Calibrator
from unmask.errors import UnmaskError
from unmask.eval.metrics import compute_eer
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.train.data import ClipBank
from unmask.train.trainer import TrainConfig, Trainer, file_logits


@dataclass
class Recipe:
    manifests: list[Path]
    out_dir: Path
    filters: dict[str, Any] = field(default_factory=dict)
    group_column: str = "source"
    leave_one_out: str | None = "source"
    extra_train_manifests: list[Path] = field(default_factory=list)
    augment: Any = None
    trainer: TrainConfig = field(default_factory=TrainConfig)
    final_epochs: int | None = None
    calibration: str = "platt"
    export: Path | None = None
    train_final: bool = True  # False: a study that only needs the held-out folds
    card: dict[str, Any] = field(default_factory=dict)
    # Frozen-front-end detectors: {dir, views, robust_view}; the back-end trains on cached encoder
    # outputs (unmask.train.cached_recipe), with `backend` its settings (BackendTrainConfig).
    feature_cache: dict[str, Any] | None = None
    backend: dict[str, Any] = field(default_factory=dict)
    holdout_splits: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> Recipe:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise UnmaskError(f"cannot read recipe ({exc})", path=path) from exc
        raw.update({k: v for k, v in overrides.items() if v is not None})
        base = path.parent

        def rel(p: str | Path) -> Path:
            return (base / p).resolve() if not Path(p).is_absolute() else Path(p)

        manifests = raw.pop("manifests", None)
        if not manifests:
            raise UnmaskError("recipe has no 'manifests'", path=path)
        trainer_settings = dict(raw.pop("trainer", {}))
        if trainer_settings.get("init_from"):
            trainer_settings["init_from"] = str(rel(Path(trainer_settings["init_from"]).expanduser()))
        trainer = TrainConfig(**trainer_settings)
        if raw.get("feature_cache"):
            cache = dict(raw["feature_cache"])
            cache["dir"] = str(rel(Path(cache.get("dir", "runs/feature-cache")).expanduser()))
            raw["feature_cache"] = cache
        return cls(
            manifests=[rel(m) for m in manifests],
            out_dir=rel(raw.pop("out_dir", "runs/" + path.stem)),
            extra_train_manifests=[rel(m) for m in raw.pop("extra_train_manifests", [])],
            export=rel(raw.pop("export")) if raw.get("export") else None,
            trainer=trainer,
            **{k: v for k, v in raw.items() if k != "export"},
        )


def load_manifests(paths: list[Path], filters: dict[str, Any]) -> Manifest:
    manifests = [read_manifest(p) for p in paths]
    merged = manifests[0] if len(manifests) == 1 else Manifest.concat(manifests, root=paths[0].parent)
    return merged.filter(**filters) if filters else merged


def run_recipe(recipe: Recipe, log: Callable[[str], None] = print, resume: bool = True) -> dict[str, Any]:
    """Run the folds and the final training; returns the study summary (also written as JSON)."""
    from unmask.train.augment import build_augmentation
    from unmask.train.augment.chain import DEFAULT_CHANNEL_CHAIN

    started = time.perf_counter()
    recipe.out_dir.mkdir(parents=True, exist_ok=True)
    cfg = recipe.trainer
    sample_rate = int(cfg.model_config.get("sample_rate", 16000))
    errors: list[str] = []
    manifest = load_manifests(recipe.manifests, recipe.filters)
    if recipe.feature_cache:
        from unmask.train.cached_recipe import run_cached_recipe

        augment_config = DEFAULT_CHANNEL_CHAIN if recipe.augment == "default" else recipe.augment
        augment = build_augmentation(augment_config, sample_rate=sample_rate) if augment_config else None
        return run_cached_recipe(recipe, manifest, augment, augment_config, log=log, resume=resume)
    log(f"decoding {len(manifest)} clips")
    bank = ClipBank.from_manifest(manifest, sample_rate, recipe.group_column, on_error=errors.append)
    extra = None
    if recipe.extra_train_manifests:
        extra_manifest = load_manifests(recipe.extra_train_manifests, {})
        extra = ClipBank.from_manifest(
            extra_manifest, sample_rate, recipe.group_column, on_error=errors.append
        )
    augment_config = DEFAULT_CHANNEL_CHAIN if recipe.augment == "default" else recipe.augment
    augment = build_augmentation(augment_config, sample_rate=sample_rate) if augment_config else None
    for message in errors:
        log(f"skipped: {message}")

    folds: dict[str, dict[str, Any]] = {}
    oof_logits, oof_targets, oof_groups = [], [], []
    oof_paths: list[str] = []
    if recipe.leave_one_out:
        groups = sorted(set(bank.groups))
        for group in groups:
            held_out = bank.groups == group
            val = bank.subset(held_out)
            if len(set(val.targets)) < 2:
                log(f"fold {group}: skipped (held-out source has one class only)")
                continue
            train = bank.subset(~held_out)
            if extra is not None:
                train = train.extend(extra.subset(extra.groups != group))
            log(f"fold {group}: train {len(train)} clips, held-out {len(val)} clips")
            # No early stopping on the held-out source: choosing epochs by its EER and then reporting
            # that EER would be selection on the test set. Folds train for a fixed number of epochs.
            ckpt = Trainer(cfg, recipe.out_dir / "folds" / path_slug(group), log=log).fit(
                train, None, augment, resume=resume
            )
            logits = file_logits(ckpt.model, val)
            eer = compute_eer(logits, val.targets)
            folds[group] = {
                "eer": eer.eer,
                "n_real": int((val.targets == 0).sum()),
                "n_fake": int((val.targets == 1).sum()),
            }
            oof_logits.append(logits)
            oof_targets.append(val.targets)
            oof_groups.append(val.groups)
            oof_paths.extend(val.paths)
            log(f"fold {group}: held-out EER {eer.eer:.4f}")

    final_epochs = recipe.final_epochs or cfg.epochs
    calibrator = None
    pooled = None
    if oof_logits:
        all_logits, all_targets = np.concatenate(oof_logits), np.concatenate(oof_targets)
        calibrator = Calibrator(method=recipe.calibration).fit(all_logits, all_targets)
        probabilities = calibrator(all_logits)
        pooled = _pooled_metrics(probabilities, all_targets)
        # Every held-out clip's score, for per-system breakdowns and calibration plots.
        pd.DataFrame(
            {
                "path": oof_paths,
                "label": np.where(all_targets == 1, "fake", "real"),
                recipe.group_column: np.concatenate(oof_groups),
                "logit": all_logits,
                "fake_probability": probabilities,
            }
        ).to_csv(recipe.out_dir / "out_of_fold.csv", index=False)

    summary = {
        "unmask_version": __version__,
        "python": platform.python_version(),
        "manifests": [str(p) for p in recipe.manifests],
        "filters": recipe.filters,
        "extra_train_manifests": [str(p) for p in recipe.extra_train_manifests],
        "protocol": f"leave-one-{recipe.leave_one_out}-out" if recipe.leave_one_out else "none",
        "trainer": asdict(cfg),
        "final_epochs": final_epochs if recipe.train_final else None,
        "augment": recipe.augment,
        "folds": folds,
        "pooled_out_of_fold": pooled,
        "calibration": calibrator.to_dict() if calibrator else None,
        "skipped_inputs": errors,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if recipe.train_final:
        final_cfg = TrainConfig(**{**asdict(cfg), "epochs": final_epochs})
        train_all = bank if extra is None else bank.extend(extra)
        log(f"final model: {len(train_all)} clips, {final_cfg.epochs} epochs")
        final = Trainer(final_cfg, recipe.out_dir / "final", log=log).fit(
            train_all, None, augment, resume=resume
        )

        card = {**recipe.card, "study": summary, "parameters": final.model.num_parameters()}
        out = Checkpoint(final.model, calibrator.to_dict() if calibrator else None, card, version=__version__)
        save_checkpoint(recipe.out_dir / "model.pt", out)
        if recipe.export:
            save_checkpoint(recipe.export, out)
            log(f"exported {recipe.export}")
    (recipe.out_dir / "study.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _pooled_metrics(probabilities: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    from unmask.eval.metrics import summarize

    metrics = summarize(probabilities, targets, threshold=0.5)
    return {
        k: (float(v) if isinstance(v, int | float | np.floating | np.integer) else v)
        for k, v in metrics.items()
    }

