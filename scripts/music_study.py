"""Leave-one-family-out study of a music detector on the music pool, then the final model.

    python scripts/music_study.py ../data/music/manifest.csv ../data/music-copy/manifest.csv \
        ../data/music-zoo/manifest.csv --one-family-per-song griffinlim,griffinlim-mel,lpc \
        --out runs/music-artifact-spectrum [--export src/unmask/assets/music.pt]

``--model artifact-spectrum`` (the default) or ``spectttra`` (the first, failed attempt).

Protocol:
- **Folds.** Every fake generator family is one fold, and so is every real source (a Debian package, a
  demo page). A fold is held out whole, and the rest train.
- **No song on both sides.** A training clip whose ``song`` appears in the held-out fold is dropped from
  that fold's training (SONICS's leakage check). For example, the Deezer reconstructions share their
  songs with the Deezer originals. Each fold records how many clips this removed.
- **Pooled EER** over every fold's out-of-fold scores: one threshold for all. Also reported:
  - per family, the EER of its fakes against all out-of-fold reals;
  - for every fold, the error rate at the pooled threshold.
- **Both classes see the same channel.** Each clip is seen clean and through one draw of the speech
  recipes' channel chain (codecs, band limits, noise, level), drawn alike for real and fake. Held-out
  scores are reported for the clean view and for the channel view.
- **Calibration.** Platt scaling on the pooled out-of-fold logits. Then a final model trains on every
  fold and is saved with a model card.
- **Nested check** (``--nested``, artifact-spectrum only). Choosing among variants on these folds
  flatters the winner. Given candidates that differ in ``C`` and ``groups``, each outer fold is scored
  by the candidate with the lowest pooled EER over the other folds alone; ``study.json`` reports the
  pooled and per-family EERs of those scores beside the plain ones.

Neither front-end has parameters, so each clip's features are computed once (``model.features``):
artifact-spectrum then fits a logistic regression per fold (``fit_features``), spectttra trains its
``classify`` by gradient steps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from unmask import __version__
from unmask.data.manifest import Manifest, read_manifest
from unmask.detect.calibration import Calibrator
from unmask.detect.pipeline import tile_to
from unmask.errors import UnmaskError
from unmask.eval.corruptions import apply_corruption, get_corruption
from unmask.eval.metrics import compute_eer
from unmask.eval.protocols import without_shared
from unmask.io import load_audio
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.train.augment import build_augmentation

CHANNEL = [  # the default speech recipe's channel views, minus rooms (mixing engineers add their own)
    {"name": "gain", "p": 0.5, "gain_db": [-20.0, 6.0], "limit_peak": True},
    {"name": "noise", "p": 0.25, "snr_db": [15.0, 40.0]},
    {"name": "one_of", "p": 0.3, "transforms": [{"name": "band_limit"}, {"name": "resample"}]},
    {"name": "codec", "p": 0.85, "codecs": ["mp3", "aac", "opus"],
     "bitrates": {"mp3": [32000, 64000, 128000], "aac": [32000, 64000, 128000],
                  "opus": [16000, 32000, 64000]}},
]


SUMMARIES = {
    "spectttra": "SpecTTTra-style music detector (temporal + spectral mel tokens, codec-residual tokens, "
                 "2-layer transformer) on 30-s windows at 16 kHz.",
    "artifact-spectrum": "Music detector on the regularity of the long-term spectrum's ripple (the "
                         "spectrum of the log-spectrum minus its running median, of the signal and of its "
                         "power), position-free ripple summaries and the ripple's stability over the "
                         "window; logistic regression, 30-s windows at 16 kHz.",
}


def fold_of(row: pd.Series) -> str:
    return f"family:{row['family']}" if row["label"] == "fake" else f"real:{row['source']}"


def load_table(paths: list[Path], disjoint: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[Path]]:
    manifests = [read_manifest(p) for p in paths]
    merged = manifests[0] if len(manifests) == 1 else Manifest.concat(manifests, root=paths[0].parent)
    frame = merged.to_frame().reset_index(drop=True)
    for column in ("family", "song"):
        if column not in frame.columns:
            raise UnmaskError(f"the manifests need a {column!r} column (build_music_pool.py writes one)")
    frame["fold"] = frame.apply(fold_of, axis=1)
    keep = one_family_per_song(frame, disjoint)
    return frame[keep].reset_index(drop=True), [p for p, k in zip(merged.abs_paths(), keep, strict=True) if k]


def one_family_per_song(frame: pd.DataFrame, families: tuple[str, ...]) -> np.ndarray:
    """Keep, of each song's fakes from ``families``, one family only (round robin over the songs).

    Copy-synthesis makes a fake of one song with every system. Holding one family out then drops that
    song from training for every system alike: the Griffin-Lim fold lost its mel Griffin-Lim and LPC
    twins too, and trained on 28 fakes. With one family per song, each fold drops only its own songs."""
    keep = np.ones(len(frame), dtype=bool)
    if not families:
        return keep
    twins = frame[frame.family.isin(families)]
    for k, (_, rows) in enumerate(sorted(twins.groupby("song"), key=lambda item: item[0])):
        present = sorted(rows.family.unique())
        chosen = present[k % len(present)]
        keep[rows.index[rows.family != chosen]] = False
    return keep


def is_estimated(model) -> bool:
    """Fitted once on cached features (artifact-spectrum), not trained by gradient steps (spectttra)."""
    return model.capabilities.training == "estimation"


def model_features(model, batch: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"spectrum": model.features(batch)} if is_estimated(model) else model.features(batch)


@torch.inference_mode()
def compute_features(model, paths: list[Path], seed: int) -> dict[str, np.ndarray]:
    """``{name: [clips, 2, ...]}``: view 0 clean, view 1 through :data:`CHANNEL`."""
    augment = build_augmentation(CHANNEL, sample_rate=model.sample_rate)
    out: dict[str, list] = {}
    started = time.perf_counter()
    for start in range(0, len(paths), 16):
        pairs = []
        for path in paths[start : start + 16]:
            wave = load_audio(path, model.sample_rate)
            # the channel draw depends on the clip, not on its place in the list: a cache can grow
            rng = np.random.default_rng([seed, int(hashlib.sha1(str(path).encode()).hexdigest()[:12], 16)])
            pairs += [tile_to(wave, model.window_samples),
                      tile_to(np.asarray(augment(wave.copy(), rng), dtype=np.float32), model.window_samples)]
        for key, value in model_features(model, torch.from_numpy(np.stack(pairs))).items():
            value = value.numpy().astype(np.float16 if value.ndim > 2 else np.float32)
            out.setdefault(key, []).append(value.reshape(-1, 2, *value.shape[1:]))
        print(f"features: {min(start + 16, len(paths))} of {len(paths)} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    return {key: np.concatenate(parts) for key, parts in out.items()}


def cached_features(model, paths: list[Path], seed: int, cache: Path) -> dict[str, np.ndarray]:
    """Features of ``paths``, computing only those ``cache`` does not hold (rows keyed by path)."""
    held: dict[str, np.ndarray] = {}
    order: list[str] = []
    if cache.is_file():
        saved = np.load(cache)
        order = list(saved["paths"]) if "paths" in saved else []
        held = {k: saved[k] for k in saved.files if k != "paths"} if order else {}
    index = {p: i for i, p in enumerate(order)}
    missing = [p for p in map(str, paths) if p not in index]
    if missing:
        new = compute_features(model, [Path(p) for p in missing], seed)
        held = {k: np.concatenate([held[k], new[k]]) if held else new[k] for k in new}
        order += missing
        index = {p: i for i, p in enumerate(order)}
        np.savez(cache, paths=np.array(order), **held)
    rows = np.array([index[str(p)] for p in paths])
    return {k: v[rows] for k, v in held.items()}


def fit_estimated(model, feats: dict[str, np.ndarray], frame: pd.DataFrame, train: np.ndarray, seed: int):
    """Fits ``model`` on both views of rows ``train``; within a class every fold weighs the same, as the
    gradient models' batches draw them."""
    rows = np.flatnonzero(train)
    per_fold = frame.fold[train].map(frame.fold[train].value_counts()).to_numpy()
    x = feats["spectrum"][rows]
    model.fit_features(np.concatenate([x[:, 0], x[:, 1]]),
                       np.tile((frame.label[train] == "fake").to_numpy().astype(int), 2),
                       sample_weight=np.tile(1.0 / per_fold, 2), seed=seed)
    return model.eval()


def train_classifier(model, feats: dict[str, np.ndarray], frame: pd.DataFrame, train: np.ndarray, steps: int,
                     seed: int, batch: int = 32, lr: float = 1e-3):
    """Trains ``model.classify`` on rows ``train`` (both views). Batches are half real and half fake,
    and within a class every fold is drawn equally often."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pools = {label: [frame.index[train & (frame.label == label) & (frame.fold == g)].to_numpy()
                     for g in frame.fold[train & (frame.label == label)].unique()]
             for label in ("real", "fake")}
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for _ in range(steps):
        picks, targets = [], []
        for label, groups in pools.items():
            for _ in range(batch // 2):
                group = groups[rng.integers(len(groups))]
                picks.append(group[rng.integers(len(group))])
                targets.append(1.0 if label == "fake" else 0.0)
        picks, view = np.array(picks), rng.integers(0, 2, size=len(picks))
        inputs = {k: torch.from_numpy(v[picks, view].astype(np.float32)) for k, v in feats.items()}
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model.classify(inputs),
                                                                    torch.tensor(targets))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@torch.inference_mode()
def logits_of(model, feats: dict[str, np.ndarray], rows: np.ndarray, view: int) -> np.ndarray:
    out = []
    for start in range(0, len(rows), 64):
        chunk = rows[start : start + 64]
        inputs = {k: torch.from_numpy(v[chunk, view].astype(np.float32)) for k, v in feats.items()}
        out.append((model.score_features(inputs["spectrum"]) if is_estimated(model)
                    else model.classify(inputs)).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def train_model(name: str, config: dict, feats, frame, train: np.ndarray, steps: int, seed: int):
    model = build_model(name, config)
    if is_estimated(model):
        return fit_estimated(model, feats, frame, train, seed)
    return train_classifier(model, feats, frame, train, steps, seed)


def corruption_sample(frame: pd.DataFrame, per_fold: int, seed: int) -> np.ndarray:
    """Rows scored under corruption: at most ``per_fold`` clips of each fold, drawn with ``seed``."""
    chosen = np.zeros(len(frame), dtype=bool)
    for _, rows in frame.groupby("fold"):
        picks = np.random.default_rng(seed).permutation(rows.index.to_numpy())[:per_fold]
        chosen[picks] = True
    return chosen


@torch.inference_mode()
def corrupted_logits(model, paths: list[Path], conditions: list[tuple[str, int]], seed: int) -> np.ndarray:
    """``[clips, conditions]``: each held-out clip through each corruption, scored by its fold's model."""
    out = np.zeros((len(paths), len(conditions)))
    for i, path in enumerate(paths):
        wave = load_audio(path, model.sample_rate)
        for j, (name, severity) in enumerate(conditions):
            bad = apply_corruption(wave, model.sample_rate, name, severity, seed=seed + i)
            out[i, j] = float(model(torch.from_numpy(tile_to(bad, model.window_samples))[None])[0])
    return out


def corruption_table(oof: pd.DataFrame, conditions: list[tuple[str, int]]) -> list[dict]:
    """Pooled EER of the sampled held-out clips, clean and under each condition (one threshold each)."""
    sample = oof[oof.corrupted]
    y = (sample.label == "fake").to_numpy().astype(int)
    table = [{"condition": "clean", "eer": round(compute_eer(sample.logit.to_numpy(), y).eer, 4)}]
    for name, severity in conditions:
        scores = sample[f"logit_{name}_{severity}"].to_numpy()
        table.append({"condition": f"{name} {severity}", "setting": get_corruption(name).describe(severity),
                      "eer": round(compute_eer(scores, y).eer, 4)})
    return table


def run_folds(name, config, feats, frame, steps, seed, conditions=(), per_fold=0,
              paths=()) -> tuple[pd.DataFrame, dict[str, dict]]:
    oof = frame[["path", "label", "family", "source", "song", "fold"]].copy()
    oof["logit"], oof["logit_channel"] = np.nan, np.nan
    oof["corrupted"] = corruption_sample(frame, per_fold, seed) if conditions else False
    for condition, severity in conditions:
        oof[f"logit_{condition}_{severity}"] = np.nan
    folds = {}
    for g in sorted(frame.fold.unique()):
        test = (frame.fold == g).to_numpy()
        train = without_shared(~test, test, frame.song)
        leaking = ~test & ~train
        started = time.perf_counter()
        model = train_model(name, config, feats, frame, train, steps, seed)
        rows = np.flatnonzero(test)
        oof.loc[test, "logit"] = logits_of(model, feats, rows, 0)
        oof.loc[test, "logit_channel"] = logits_of(model, feats, rows, 1)
        corrupt = np.flatnonzero(test & oof.corrupted.to_numpy())
        if len(corrupt):
            scores = corrupted_logits(model, [paths[r] for r in corrupt], list(conditions), seed)
            for j, (condition, severity) in enumerate(conditions):
                oof.loc[corrupt, f"logit_{condition}_{severity}"] = scores[:, j]
        folds[g] = {"n_test": int(test.sum()), "n_train": int(train.sum()),
                    "dropped_for_shared_songs": int(leaking.sum()),
                    "seconds": round(time.perf_counter() - started, 1)}
        print(g, folds[g], flush=True)
    return oof, folds


def eer_vs_reals(fakes: np.ndarray, reals: np.ndarray) -> float:
    """EER of one family's held-out scores against every held-out real's (rounded as study.json keeps it)."""
    labels = np.r_[np.ones(len(fakes)), np.zeros(len(reals))]
    return round(compute_eer(np.r_[fakes, reals], labels).eer, 4)


def nested_candidates(name: str, config: dict, model,
                      candidates: list[dict]) -> list[tuple[dict, np.ndarray]]:
    """Each candidate's full config and where its features sit in the study's cache. A candidate may
    change only ``C``, ``groups`` and ``experts``, so its features are a slice of the cached ones."""
    out = []
    for change in candidates:
        other = sorted(set(change) - {"C", "groups", "experts"})
        if other or not is_estimated(model):
            raise UnmaskError(f"nested candidate {change}: only C, groups and experts may change (not "
                              f"{other}), and only for artifact-spectrum",
                              hint="its features must be a slice of the cache")
        full = {**config, **change}
        out.append((full, model.columns_of(build_model(name, full).groups)))
    return out


#: How the nested check picks a candidate on the inner folds: the lowest pooled EER, or the lowest EER of
#: the worst held-out family against the reals (the issue's bar has both halves: pooled, every family).
CRITERIA = ("pooled", "worst-family")


def _inner_scores(name, candidate, feats, frame, pool: np.ndarray, seed: int) -> dict[str, float]:
    """Leave-one-fold-out within the rows ``pool`` (the nested check's inner loop), scored by each of
    :data:`CRITERIA`."""
    logits = np.full(len(frame), np.nan)
    for g in sorted(frame.fold[pool].unique()):
        test = pool & (frame.fold == g).to_numpy()
        model = fit_estimated(build_model(name, candidate), feats, frame,
                              without_shared(pool & ~test, test, frame.song), seed)
        logits[test] = logits_of(model, feats, np.flatnonzero(test), 0)
    fake = (frame.label == "fake").to_numpy()
    reals = logits[pool & ~fake]
    worst = max(eer_vs_reals(logits[pool & (frame.family == family).to_numpy()], reals)
                for family in frame.family[pool & fake].unique())
    return {"pooled": compute_eer(logits[pool], fake[pool].astype(int)).eer, "worst-family": worst}


def _nested_fold(name, candidates, feats, frame, g: str, seed: int) -> tuple[str, dict[str, int], dict]:
    test = (frame.fold == g).to_numpy()
    pool = without_shared(~test, test, frame.song)
    sliced = [(cfg, {"spectrum": feats["spectrum"][..., cols]}) for cfg, cols in candidates]
    inner = [_inner_scores(name, cfg, part, frame, pool, seed) for cfg, part in sliced]
    best, logits = {}, {}
    for criterion in CRITERIA:
        # ties go to the pooled EER, then to the earlier candidate
        best[criterion] = min(range(len(inner)), key=lambda k: (inner[k][criterion], inner[k]["pooled"], k))
    for k in set(best.values()):
        cfg, part = sliced[k]
        model = fit_estimated(build_model(name, cfg), part, frame, pool, seed)
        logits[k] = logits_of(model, part, np.flatnonzero(test), 0)
    return g, best, {criterion: logits[k] for criterion, k in best.items()}


def nested_check(name, config, model, feats, frame, candidates: list[dict], seed: int, jobs: int) -> dict:
    """How much choosing among ``candidates`` on the study's folds flatters its figures. For each outer
    fold, the candidate best over the *other* folds alone (leave-one-fold-out among them) is fitted on
    them and scores the held-out fold; "best" is each of :data:`CRITERIA` in turn. The pooled and
    per-family EERs of those scores are reported beside the plain study's."""
    from joblib import Parallel, delayed

    chosen = nested_candidates(name, config, model, candidates)
    runs = Parallel(n_jobs=jobs)(delayed(_nested_fold)(name, chosen, feats, frame, g, seed)
                                 for g in sorted(frame.fold.unique()))
    y = (frame.label == "fake").to_numpy().astype(int)
    out: dict = {"candidates": candidates}
    for criterion in CRITERIA:
        logit = np.full(len(frame), np.nan)
        picks = {}
        for g, best, logits in runs:
            logit[(frame.fold == g).to_numpy()] = logits[criterion]
            picks[g] = best[criterion]
        reals = logit[y == 0]
        families = {family: eer_vs_reals(logit[(frame.family == family).to_numpy()], reals)
                    for family in sorted(frame.family[y == 1].unique())}
        out[criterion] = {"pooled_eer": round(compute_eer(logit, y).eer, 4), "eer_per_family": families,
                          "candidate_chosen_per_fold": picks}
    return out


def summarise(oof: pd.DataFrame, folds: dict[str, dict], pool_without: tuple[str, ...] = ()) -> dict:
    y = (oof.label == "fake").to_numpy().astype(int)
    pooled = compute_eer(oof.logit.to_numpy(), y)
    channel = compute_eer(oof.logit_channel.to_numpy(), y)
    reals = oof[oof.label == "real"].logit.to_numpy()
    for g, info in folds.items():
        part = oof[oof.fold == g]
        wrong = (part.logit >= pooled.threshold) != (part.label == "fake")
        info["error_rate_at_pooled_threshold"] = round(float(wrong.mean()), 4)
        if g.startswith("family:"):
            info["eer_vs_all_reals"] = eer_vs_reals(part.logit.to_numpy(), reals)
    summary = {"pooled_eer": round(pooled.eer, 4),
               "pooled_threshold_logit": round(float(pooled.threshold), 4),
               "pooled_eer_channel_view": round(channel.eer, 4), "n_clips": len(oof),
               "n_real": int((y == 0).sum()), "n_fake": int(y.sum())}
    if pool_without:
        # the same out-of-fold scores pooled over fewer families: compares a study with extra training
        # families (the vocoder zoo) to one without, on the clips both scored
        kept = ~oof.family.isin(pool_without).to_numpy()
        eer = compute_eer(oof.logit.to_numpy()[kept], y[kept]).eer
        summary["pooled_eer_without"] = {"families": list(pool_without), "eer": round(eer, 4)}
    return {**summary, "folds": folds}


def portable(path: Path) -> str:
    """``path`` as the card records it: relative to the working folder (the checkout), so a card names
    ``../data/music/manifest.csv`` and not the folder layout of the machine that made it."""
    return os.path.relpath(path) if path.is_absolute() else str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=Path("runs/music-artifact-spectrum"))
    parser.add_argument("--export", type=Path, help="also save the final model here (e.g. the bundled asset)")
    parser.add_argument("--model", default="artifact-spectrum", choices=sorted(SUMMARIES))
    parser.add_argument("--config", default="{}", help="the model's config, JSON")
    parser.add_argument("--steps", type=int, default=300, help="gradient steps (spectttra)")
    parser.add_argument("--corruptions", default="",
                        help="comma list of name:severity (unmask.eval.corruptions): score a sample of "
                             "held-out clips through each, by their fold's model")
    parser.add_argument("--corruption-clips", type=int, default=8, help="clips per fold for --corruptions")
    parser.add_argument("--pool-without", default="",
                        help="comma list of families: also report the pooled EER without their clips")
    parser.add_argument("--nested", default="",
                        help="JSON list of config changes (C, groups, experts) to choose among, per outer "
                             "fold, on the other folds (by pooled EER, and by the worst family's): how much "
                             "that choice flatters the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--features", type=Path, help="feature cache (.npz), shared between studies")
    parser.add_argument("--one-family-per-song", default="",
                        help="comma list of copy-synthesis families: keep one of them per song")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    frame, paths = load_table(args.manifests, tuple(args.one_family_per_song.split(",")) if
                              args.one_family_per_song else ())
    config = json.loads(args.config)
    model = build_model(args.model, config).eval()
    feats = cached_features(model, paths, args.seed, args.features or args.out / "features.npz")
    conditions = [(c.split(":")[0], int(c.split(":")[1])) for c in filter(None, args.corruptions.split(","))]
    oof, folds = run_folds(args.model, config, feats, frame, args.steps, args.seed, conditions,
                           args.corruption_clips, paths)
    oof.to_csv(args.out / "out_of_fold.csv", index=False)
    summary = summarise(oof, folds, tuple(filter(None, args.pool_without.split(","))))
    if conditions:
        summary["corruptions"] = {"clips": int(oof.corrupted.sum()), "per_fold": args.corruption_clips,
                                  "table": corruption_table(oof, conditions)}
    if args.nested:
        summary["nested"] = nested_check(args.model, config, model, feats, frame, json.loads(args.nested),
                                         args.seed, jobs=max(1, args.threads))
        for criterion in CRITERIA:
            part = summary["nested"][criterion]
            shown = {k: part[k] for k in ("pooled_eer", "eer_per_family")}
            print(f"nested ({criterion}):", json.dumps(shown))
    calibrator = Calibrator().fit(oof.logit.to_numpy(), (oof.label == "fake").to_numpy().astype(int))
    everything = np.ones(len(frame), dtype=bool)
    final = train_model(args.model, config, feats, frame, everything, args.steps, args.seed)
    families = sorted(frame.family[frame.label == "fake"].unique())
    card = {"summary": SUMMARIES[args.model],
            "training_data": "scripts/build_music_pool.py: Debian game music (real), ACE-Step tracks "
                             "(immich-memories-music), realworld-dev's Deezer auto-encoder reconstructions, "
                             "and copy-synthesis of the real excerpts; every clip through one chain. "
                             f"Fake families: {', '.join(families)}.",
            "protocol": "leave one fake family / one real source out, no song on both sides; pooled "
                        "out-of-fold EER; scripts/music_study.py "
                        + " ".join(portable(m) for m in args.manifests),
            "study": summary, "parameters": final.size_description(),
            "intended_use": "Triage of music for AI generation; a verdict to review, not proof.",
            "failure_modes": "Generators unlike the few families here (Suno, Udio, MusicGen and YuE are "
                             "absent); real music unlike game soundtracks (electronic music with steady "
                             "synthetic tones is called fake most often); songs shorter than 5 s."}
    checkpoint = Checkpoint(final, calibrator.to_dict(), card, version=__version__)
    save_checkpoint(args.out / "model.pt", checkpoint)
    if args.export and (summary["pooled_eer"] >= 0.5 or calibrator.scale <= 0):
        # Platt on worse-than-chance held-out scores turns them upside down: not a detector to ship.
        print(f"NOT exported to {args.export}: pooled held-out EER {summary['pooled_eer']:.1%} "
              f"(calibration slope {calibrator.scale:.3f}); see {args.out / 'study.json'}")
    elif args.export:
        save_checkpoint(args.export, checkpoint)
    (args.out / "study.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "folds"}, indent=2))


if __name__ == "__main__":
    main()
