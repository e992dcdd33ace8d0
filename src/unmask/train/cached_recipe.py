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
import multiprocessing
import platform
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from unmask import __version__
from unmask._fs import path_slug
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
    torch.manual_seed(cfg.seed)  # a front-end with random weights (pretrained: false) is then reproducible
    frontend = build_model(cfg.model, cfg.model_config).eval()
    cache = FeatureCache(Path(settings["dir"]).expanduser(), frontend)
    errors: list[str] = []
    log(f"feature cache: {len(manifest)} clips x {views} views in {cache.root}")
    for root, layers in cache.reused:
        log(f"feature cache: views found in {root} are read from there (its states {list(layers)})")
    clips = cache.build(manifest, recipe.group_column, views=views, augment=augment,
                        augment_config=augment_config, seed=cfg.seed, on_error=errors.append, log=log)
    for message in errors:
        log(f"skipped: {message}")

    jobs = _training_jobs(clips, recipe)
    _train_missing(jobs, cfg, backend_cfg, int(settings.get("workers", 1)), resume, log)

    def trained(where: Path) -> torch.nn.Module:
        return _load_backend(cfg, frontend, where)  # trained by _train_missing

    robust_view = settings.get("robust_view")
    folds, oof = _leave_one_out(clips, recipe, trained, robust_view, log)
    pooled, calibrator, per_source = _pool(oof, recipe.calibration)
    oof.to_csv(recipe.out_dir / "out_of_fold.csv", index=False)
    splits = {name: _holdout_split(name, spec, clips, trained, recipe.out_dir, log)
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
        final = trained(recipe.out_dir / "final")
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
def _fold_sets(clips: list[CachedClip]) -> list[tuple[str, list[CachedClip], list[CachedClip]]]:
    """``(group, held_out, train)`` for every group."""
    groups = sorted({c.group for c in clips})
    return [(g, [c for c in clips if c.group == g], [c for c in clips if c.group != g]) for g in groups]


def _holdout_sets(name: str, spec: dict[str, Any], clips: list[CachedClip]):
    """``(test, train, n_fakes, sources)``: the matching fakes + their sources' reals, and the rest."""
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
    return test, train, len(fakes), sources


def _training_jobs(clips: list[CachedClip], recipe: Any) -> list[tuple[Path, list[CachedClip]]]:
    """Every back-end the recipe trains: one per fold, per hold-out split, and the final one."""
    jobs = [(recipe.out_dir / "folds" / path_slug(g), train) for g, _, train in _fold_sets(clips)]
    for name, spec in (recipe.holdout_splits or {}).items():
        jobs.append((recipe.out_dir / "holdout" / path_slug(name), _holdout_sets(name, spec, clips)[1]))
    if recipe.train_final:
        jobs.append((recipe.out_dir / "final", clips))
    return jobs


def _train_missing(jobs, cfg, backend_cfg, workers: int, resume: bool, log: Log) -> None:
    """Train the jobs without a saved back-end (all of them without ``resume``), ``workers`` at a time in
    separate processes of one torch thread each: folds are independent given the cache."""
    todo = [(where, train) for where, train in jobs if not (resume and (where / "backend.pt").is_file())]
    if not todo:
        return
    log(f"training {len(todo)} back-ends ({len(jobs) - len(todo)} already trained), {workers} at a time")
    if workers <= 1 or len(todo) == 1:
        for where, train in todo:
            _train_job(cfg, backend_cfg, train, where)
            log(f"trained {where.relative_to(where.parents[1])}")
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train_job, cfg, backend_cfg, train, where): where for where, train in todo}
        for future in as_completed(futures):
            future.result()
            log(f"trained {futures[future].relative_to(futures[future].parents[1])}")


def _train_job(cfg, backend_cfg, train: list[CachedClip], where: Path) -> None:
    torch.set_num_threads(1)
    model = build_model(cfg.model, cfg.model_config)
    losses = train_backend(model, train, backend_cfg, log=lambda m: print(f"[{where.name}] {m}", flush=True))
    where.mkdir(parents=True, exist_ok=True)
    sampled = losses[:: max(1, len(losses) // 200)]
    (where / "losses.json").write_text(json.dumps([round(x, 5) for x in sampled]))
    backend = {k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    torch.save(backend, where / "backend.pt")  # last: its presence means "trained"


def _load_backend(cfg, frontend, where: Path):
    """The back-end saved at ``where`` on the shared front-end encoder (one copy in memory for every fold;
    the encoder the cache was made with, also when it has random weights)."""
    model = build_model(cfg.model, cfg.model_config)
    model.encoder = frontend.encoder
    encoder = {f"encoder.{k}": v for k, v in frontend.encoder.state_dict().items()}
    model.load_state_dict({**encoder, **torch.load(where / "backend.pt", weights_only=True)})
    return model.eval()


def _leave_one_out(clips: list[CachedClip], recipe: Any, trained, robust_view: int | None, log: Log):
    folds: dict[str, dict[str, Any]] = {}
    rows = []
    for group, held, train in _fold_sets(clips):
        log(f"fold {group}: train {len(train)} clips, held-out {len(held)}")
        model = trained(recipe.out_dir / "folds" / path_slug(group))
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


def _holdout_split(name: str, spec: dict[str, Any], clips: list[CachedClip], trained, out_dir: Path,
                   log: Log) -> dict[str, Any]:
    """Train without the matching fakes and their sources' reals; EER on exactly those."""
    test, train, n_fakes, sources = _holdout_sets(name, spec, clips)
    log(f"holdout {name}: train {len(train)} clips, test {len(test)} ({n_fakes} fakes)")
    where = out_dir / "holdout" / path_slug(name)
    model = trained(where)
    recorded = [{"path": c.path, "label": "fake" if c.target else "real", "source": c.group,
                 "system": c.system} for c in test]
    pd.DataFrame(recorded).to_csv(where / "test.csv", index=False)  # the split's test set, recorded
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

