"""The recipe path for detectors on a frozen, cached front-end (``feature_cache:`` in the recipe YAML).

Protocol, chosen so that the study predicts sources nobody has seen (a lesson paid for: six old demo
pages gave a 15% mean held-out EER and a model that was worse than chance on 2023-2024 generators):

- **Leave one source out over every source**, including sources that hold only real or only fake clips:
  each fold trains on the other sources and scores the held-out one.
- **Pooled EER** over all out-of-fold file scores is the selection figure: one threshold must serve
  every source, so a model whose scores shift from source to source is penalised, which a mean of
  per-source EERs hides.
- Per source: the EER where a source has both classes, and for every source the error rate at the
  pooled EER threshold (for a single-class source, that is its only figure).
- **Hold-out splits** (``holdout_splits``): e.g. every zero-shot TTS family at once. The test set is the
  matching fakes plus every real clip of the sources they come from; nothing of those sources trains.
- Calibration (Platt) is fitted on the pooled out-of-fold scores, then the final back-end is trained on
  every source and saved with it.
- ``robust_view``: the out-of-fold scores are also computed on an augmented view (codecs, noise,
  band limits), reported as a second pooled EER: how much the channel moves the verdicts.
"""

from __future__ import annotations

import json
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from unmask import __version__
from unmask.detect.calibration import Calibrator
from unmask.errors import UnmaskError
from unmask.eval.metrics import compute_eer, summarize
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.train.backend import BackendTrainConfig, cached_file_logits, train_backend
from unmask.train.feature_cache import CachedClip, FeatureCache

Log = Callable[[str], None]


def run_cached_recipe(recipe: Any, manifest: Any, augment: Any, augment_config: Any, log: Log = print,
                      resume: bool = True) -> dict[str, Any]:
    """Folds, hold-out splits, calibration and the final model of a ``feature_cache`` recipe."""
    started = time.perf_counter()
    cfg = recipe.trainer
    settings = dict(recipe.feature_cache)
    views = int(settings.get("views", 1))
    threads = int(cfg.threads)
    torch.set_num_threads(max(1, threads))
    backend_cfg = BackendTrainConfig(**{"seed": cfg.seed, **dict(recipe.backend or {})})
    frontend = build_model(cfg.model, cfg.model_config).eval()
    cache = FeatureCache(Path(settings["dir"]).expanduser(), frontend)
    errors: list[str] = []
    log(f"feature cache: {len(manifest)} clips x {views} views in {cache.root}")
    clips = cache.build(manifest, recipe.group_column, views=views, augment=augment,
                        augment_config=augment_config, seed=cfg.seed, on_error=errors.append, log=log)
    for message in errors:
        log(f"skipped: {message}")

    def fit(train: list[CachedClip], where: Path) -> torch.nn.Module:
        return _fit_or_resume(cfg, backend_cfg, frontend, train, where, log, resume)

    robust_view = settings.get("robust_view")
    folds, oof = _leave_one_out(clips, recipe, fit, robust_view, log)
    pooled, calibrator, per_source = _pool(oof, recipe.calibration)
    oof.to_csv(recipe.out_dir / "out_of_fold.csv", index=False)
    splits = {name: _holdout_split(name, spec, clips, fit, recipe.out_dir, log)
              for name, spec in (recipe.holdout_splits or {}).items()}
    summary = {
        "unmask_version": __version__,
        "python": platform.python_version(),
        "manifests": [str(p) for p in recipe.manifests],
        "filters": recipe.filters,
        "protocol": f"leave-one-{recipe.group_column}-out over every {recipe.group_column} "
                    "(single-class ones too), pooled out-of-fold scores",
        "trainer": {"model": cfg.model, "model_config": cfg.model_config, "seed": cfg.seed},
        "backend": asdict(backend_cfg),
        "feature_cache": {"views": views, "fingerprint": frontend.frontend_fingerprint(),
                          "robust_view": robust_view},
        "augment": augment_config,
        "n_clips": len(clips),
        "folds": {k: {**v, **per_source.get(k, {})} for k, v in folds.items()},
        "pooled_out_of_fold": pooled,
        "pooled_out_of_fold_augmented": _robust_pooled(oof, calibrator) if robust_view else None,
        "holdout_splits": splits,
        "calibration": calibrator.to_dict(),
        "skipped_inputs": errors,
    }
    if recipe.train_final:
        final = fit(clips, recipe.out_dir / "final")
        card = {**recipe.card, "study": summary, "parameters": final.size_description()}
        out = Checkpoint(final, calibrator.to_dict(), card, version=__version__)
        save_checkpoint(recipe.out_dir / "model.pt", out)
        if recipe.export:
            save_checkpoint(recipe.export, out)
            log(f"exported {recipe.export}")
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (recipe.out_dir / "study.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


# ---------------------------------------------------------------------------------------- training
def _fit_or_resume(cfg, backend_cfg, frontend, train, where: Path, log: Log, resume: bool):
    """A back-end trained on ``train``; a finished fold (``backend.pt``) is reloaded, not retrained."""
    model = build_model(cfg.model, cfg.model_config)
    model.encoder = frontend.encoder  # share the frozen encoder: one copy in memory for every fold
    saved = where / "backend.pt"
    if resume and saved.is_file():
        model.load_state_dict(torch.load(saved, weights_only=True))
        return model.eval()
    losses = train_backend(model, train, backend_cfg, log=log)
    where.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), saved)
    sampled = losses[:: max(1, len(losses) // 200)]
    (where / "losses.json").write_text(json.dumps([round(x, 5) for x in sampled]))
    return model.eval()


def _leave_one_out(clips: list[CachedClip], recipe: Any, fit, robust_view: int | None, log: Log):
    groups = np.array([c.group for c in clips])
    folds: dict[str, dict[str, Any]] = {}
    rows = []
    for group in sorted(set(groups)):
        held = [c for c, g in zip(clips, groups, strict=True) if g == group]
        train = [c for c, g in zip(clips, groups, strict=True) if g != group]
        log(f"fold {group}: train {len(train)} clips, held-out {len(held)}")
        model = fit(train, recipe.out_dir / "folds" / _slug(group))
        logits = cached_file_logits(model, held)
        robust = (cached_file_logits(model, held, view=robust_view) if robust_view
                  else np.full(len(held), np.nan))
        targets = np.array([c.target for c in held])
        folds[group] = {"n_real": int((targets == 0).sum()), "n_fake": int((targets == 1).sum())}
        if len(set(targets)) == 2:
            folds[group]["eer"] = compute_eer(logits, targets).eer
            log(f"fold {group}: held-out EER {folds[group]['eer']:.4f}")
        rows.extend({"path": c.path, "label": "fake" if c.target else "real", "source": c.group,
                     "system": c.system, "logit": float(lg), "logit_augmented": float(rb)}
                    for c, lg, rb in zip(held, logits, robust, strict=True))
    return folds, pd.DataFrame(rows)


def _pool(oof: pd.DataFrame, method: str) -> tuple[dict[str, Any], Calibrator, dict[str, dict]]:
    targets = (oof["label"] == "fake").to_numpy().astype(int)
    calibrator = Calibrator(method=method).fit(oof["logit"].to_numpy(), targets)
    probabilities = calibrator(oof["logit"].to_numpy())
    oof["fake_probability"] = probabilities
    metrics = _plain(summarize(probabilities, targets, threshold=0.5))
    threshold = float(metrics["eer_threshold"])
    per_source = {}
    for source, part in oof.groupby("source"):
        wrong = np.where(part["label"] == "fake", part["fake_probability"] < threshold,
                         part["fake_probability"] >= threshold)
        per_source[source] = {"errors_at_pooled_threshold": float(np.mean(wrong))}
    return metrics, calibrator, per_source


def _robust_pooled(oof: pd.DataFrame, calibrator: Calibrator) -> dict[str, Any]:
    targets = (oof["label"] == "fake").to_numpy().astype(int)
    return _plain(summarize(calibrator(oof["logit_augmented"].to_numpy()), targets, threshold=0.5))


def _holdout_split(name: str, spec: dict[str, Any], clips: list[CachedClip], fit, out_dir: Path,
                   log: Log) -> dict[str, Any]:
    """Train without the matching fakes and their sources' reals; EER on exactly those."""
    column = spec.get("column", "system")
    if column != "system":
        raise UnmaskError(f"holdout split {name!r}: only column 'system' is supported, got {column!r}")
    pattern = re.compile(spec["pattern"], re.IGNORECASE)
    fakes = {i for i, c in enumerate(clips) if c.target == 1 and pattern.search(c.system)}
    sources = {clips[i].group for i in fakes}
    test = [c for i, c in enumerate(clips) if i in fakes or (c.target == 0 and c.group in sources)]
    train = [c for i, c in enumerate(clips) if i not in fakes and c.group not in sources]
    if not fakes or not any(c.target == 0 for c in test):
        raise UnmaskError(f"holdout split {name!r}: its pattern matches no fake, or their sources no real")
    log(f"holdout {name}: train {len(train)} clips, test {len(test)} ({len(fakes)} fakes)")
    model = fit(train, out_dir / "holdout" / _slug(name))
    logits = cached_file_logits(model, test)
    targets = np.array([c.target for c in test])
    systems = sorted({c.system for c in test if c.target == 1})
    result = {"eer": compute_eer(logits, targets).eer, "n_real": int((targets == 0).sum()),
              "n_fake": int(targets.sum()), "sources": sorted(sources), "systems": systems}
    log(f"holdout {name}: EER {result['eer']:.4f}")
    return result


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, int | float | np.floating | np.integer) else v)
            for k, v in metrics.items()}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
