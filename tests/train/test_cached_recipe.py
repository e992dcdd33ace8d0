"""A feature-cache recipe end to end: every source a fold (single-class ones too), pooled scores,
a hold-out split, calibration, and a final checkpoint that `Detector` loads and scans with."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from audio_fixtures import buzzy, voiced
from unmask.detect.pipeline import Detector
from unmask.io import save_audio
from unmask.train.recipe import Recipe, run_recipe


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("cached-recipe")
    rng = np.random.default_rng(0)
    rows = []
    # Two sources with both classes, one with fakes only (a TTS page), one with reals only (a corpus).
    layout = {"pageA": ("real", "fake"), "pageB": ("real", "fake"), "ttsonly": ("fake",), "corpus": ("real",)}
    for source, labels in layout.items():
        for label in labels:
            for i in range(4):
                make = voiced if label == "real" else buzzy
                name = f"{source}-{label}{i}.flac"
                save_audio(root / name, make(2.5 + i, rng), 16000)
                system = "zs-tts" if (source == "pageB" and label == "fake") else f"{source}-sys"
                rows.append({"path": name, "label": label, "source": source, "system": system})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    recipe = {
        "manifests": ["manifest.csv"],
        "out_dir": "run",
        "export": "exported.pt",
        "augment": [{"name": "noise", "p": 1.0, "snr_db": [15.0, 25.0]}],
        "feature_cache": {"dir": "cache", "views": 2, "robust_view": 1, "workers": 2},
        "backend": {"steps": 80, "batch_size": 8, "lr": 3e-3, "log_every": 0},
        "holdout_splits": {"zero-shot": {"column": "system", "pattern": "^zs-"}},
        "trainer": {"model": "whisper-mlp", "model_config": {"pretrained": False, "dropout": 0.0},
                    "threads": 1},
        "card": {"summary": "test"},
    }
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    logs: list[str] = []
    summary = run_recipe(Recipe.from_yaml(root / "recipe.yaml"), log=logs.append)
    return root, summary, logs


def test_every_source_is_a_fold_and_single_class_ones_count(study):
    root, summary, _ = study
    folds = summary["folds"]
    assert sorted(folds) == ["corpus", "pageA", "pageB", "ttsonly"]
    assert "eer" in folds["pageA"] and "eer" not in folds["ttsonly"]
    assert all(0.0 <= f["errors_at_pooled_threshold"] <= 1.0 for f in folds.values())
    oof = pd.read_csv(root / "run" / "out_of_fold.csv")
    assert len(oof) == 24 and set(oof["source"]) == set(folds)  # the single-class sources are pooled
    assert summary["pooled_out_of_fold"]["n"] == 24
    assert summary["pooled_out_of_fold"]["eer"] < 0.3  # buzzy fakes are learnable from other sources
    assert summary["pooled_out_of_fold_augmented"]["n"] == 24


def test_holdout_split_trains_without_the_family_and_its_sources_reals(study):
    root, summary, logs = study
    split = summary["holdout_splits"]["zero-shot"]
    assert split["n_fake"] == 4 and split["n_real"] == 4 and split["sources"] == ["pageB"]
    assert any("holdout zero-shot: train 16 clips" in line for line in logs)
    recorded = pd.read_csv(root / "run" / "holdout" / "zero-shot" / "test.csv")
    assert len(recorded) == 8 and set(recorded["source"]) == {"pageB"}


def test_final_model_is_calibrated_and_scans_files(study):
    root, summary, _ = study
    detector = Detector.load(root / "exported.pt")
    assert detector.card["study"]["pooled_out_of_fold"]["eer"] == summary["pooled_out_of_fold"]["eer"]
    assert detector.calibrator.to_dict() == summary["calibration"]
    fake = detector.scan(root / "ttsonly-fake3.flac")
    real = detector.scan(root / "corpus-real3.flac")
    assert fake.verdict != "error" and real.verdict != "error"
    assert fake.fake_probability > real.fake_probability


def test_a_rerun_resumes_every_fold(study):
    root, summary, _ = study
    logs: list[str] = []
    again = run_recipe(Recipe.from_yaml(root / "recipe.yaml"), log=logs.append)
    assert again["pooled_out_of_fold"] == summary["pooled_out_of_fold"]
    assert not any("step" in line for line in logs)
    assert json.loads((root / "run" / "study.json").read_text())["n_clips"] == 24
