"""Linear probes on cached encoder outputs: how well does each frozen front-end separate real from fake on
sources it never saw?

    python scripts/probe_study.py recipes/default/recipe.yaml recipes/studies/whisper-base.yaml \
        --out runs/probe-study.json

For each feature-cache recipe given, the script:
1. reads every clip's cached views (the recipe's own cache; run ``unmask train RECIPE`` first to build
   it, or let this script build what is missing);
2. sums each encoder layer up as the mean and standard deviation of its frames over the whole clip;
3. fits a logistic regression, leaving one source out, over every source, as the recipe's study does.

Training uses both views of the training clips (clean and channel-augmented); the held-out source is
scored on its clean view and, separately, on its channel view. Reported: the pooled out-of-fold EER and
AUC, for every recipe alone and for all of them joined (their features side by side). The clip
summaries are kept in ``--stats-dir``, keyed by the cache fingerprint, so a rerun only fits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from unmask.eval.metrics import compute_eer
from unmask.models.registry import build_model
from unmask.train.augment import build_augmentation
from unmask.train.augment.chain import DEFAULT_CHANNEL_CHAIN
from unmask.train.feature_cache import FeatureCache
from unmask.train.recipe import Recipe, load_manifests


def clip_stats(array: np.ndarray) -> np.ndarray:
    """``[blocks, layers, frames, d]`` -> ``[2, layers, d]``: each layer's frame mean and std."""
    layers, d = array.shape[1], array.shape[3]
    frames = np.asarray(array, dtype=np.float32).transpose(1, 0, 2, 3).reshape(layers, -1, d)
    return np.stack([frames.mean(axis=1), frames.std(axis=1)])


def recipe_stats(path: Path, stats_dir: Path, log=print) -> tuple[list[str], np.ndarray, np.ndarray, list]:
    """Paths, stats ``[clips, views, 2, layers, d]``, targets and groups of one recipe's cached clips."""
    recipe = Recipe.from_yaml(path)
    cfg = recipe.trainer
    model = build_model(cfg.model, cfg.model_config).eval()
    stats_file = stats_dir / f"{model.frontend_fingerprint()}.npz"
    if stats_file.is_file():
        saved = np.load(stats_file, allow_pickle=False)
        return list(saved["paths"]), saved["stats"], saved["targets"], list(saved["groups"])
    settings = dict(recipe.feature_cache)
    views = int(settings.get("views", 1))
    augment_config = DEFAULT_CHANNEL_CHAIN if recipe.augment == "default" else recipe.augment
    augment = build_augmentation(augment_config, sample_rate=model.sample_rate) if augment_config else None
    manifest = load_manifests(recipe.manifests, recipe.filters)
    cache = FeatureCache(Path(settings["dir"]), model)
    clips = cache.build(manifest, recipe.group_column, views=views, augment=augment,
                        augment_config=augment_config, seed=cfg.seed, on_error=log, log=log)
    started = time.perf_counter()
    stats = np.stack([[clip_stats(clip.load(v)) for v in range(views)] for clip in clips]).astype(np.float32)
    log(f"{path}: {len(clips)} clips summarised in {time.perf_counter() - started:.0f} s")
    stats_dir.mkdir(parents=True, exist_ok=True)
    result = ([c.path for c in clips], stats, np.array([c.target for c in clips]), [c.group for c in clips])
    np.savez(stats_file, paths=np.array(result[0]), stats=stats, targets=result[2],
             groups=np.array(result[3]))
    return result


def loso_probe(features: np.ndarray, targets: np.ndarray, groups: np.ndarray, c: float) -> dict[str, float]:
    """Leave-one-group-out logistic regression; ``features`` ``[clips, views, dims]``."""
    clean, channel = np.full(len(targets), np.nan), np.full(len(targets), np.nan)
    for group in np.unique(groups):
        test = groups == group
        train_x = features[~test].reshape(-1, features.shape[-1])
        train_y = np.repeat(targets[~test], features.shape[1])
        scaler = StandardScaler().fit(train_x)
        probe = LogisticRegression(C=c, max_iter=400, class_weight="balanced")
        probe.fit(scaler.transform(train_x), train_y)
        clean[test] = probe.decision_function(scaler.transform(features[test, 0]))
        if features.shape[1] > 1:
            channel[test] = probe.decision_function(scaler.transform(features[test, 1]))
    out = {"pooled_eer": compute_eer(clean, targets).eer, "auc": roc_auc_score(targets, clean)}
    if features.shape[1] > 1:
        out["pooled_eer_channel_view"] = compute_eer(channel, targets).eer
    return {k: round(float(v), 4) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", type=Path, nargs="+")
    parser.add_argument("--stats-dir", type=Path, default=Path("runs/probe-stats"))
    parser.add_argument("--out", type=Path, default=Path("runs/probe-study.json"))
    parser.add_argument("--c", type=float, default=0.01, help="inverse L2 strength of the probe")
    parser.add_argument("--views", type=int, default=0,
                        help="use each recipe's first N views (1: clean clips only, so recipes of fewer "
                             "views join); 0 = all")
    args = parser.parse_args()
    loaded = {str(path): recipe_stats(path, args.stats_dir) for path in args.recipes}
    if args.views:
        loaded = {name: (paths, stats[:, : args.views], targets, groups)
                  for name, (paths, stats, targets, groups) in loaded.items()}
    first_paths = list(loaded.values())[0][0]
    for name, (paths, *_rest) in loaded.items():
        if paths != first_paths:
            raise SystemExit(f"{name}: not the first recipe's clips; use recipes over one data set")
    _, _, targets, groups = list(loaded.values())[0]
    groups = np.array(groups)
    blocks = {name: stats.reshape(len(targets), stats.shape[1], -1)
              for name, (_, stats, _, _) in loaded.items()}
    if len(blocks) > 1:
        blocks["all joined"] = np.concatenate(list(blocks.values()), axis=2)
    results = {}
    for name, features in blocks.items():
        started = time.perf_counter()
        results[name] = loso_probe(features, np.asarray(targets), groups, args.c)
        results[name]["dims"] = int(features.shape[-1])
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(name, results[name], flush=True)
    views = args.views or "all"
    protocol = (f"leave-one-source-out over {len(np.unique(groups))} sources, {len(targets)} clips; "
                f"logistic regression on per-layer frame mean+std, trained on {views} view(s)")
    summary = {"protocol": protocol,
               "c": args.c, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
