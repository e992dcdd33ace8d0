import json

import numpy as np
import pytest
import torch
import yaml

from audio_fixtures import RATE, buzzy, voiced, voiced_vs_buzzy_bank
from unmask.data.manifest import Manifest
from unmask.errors import UnmaskError
from unmask.eval.metrics import compute_eer
from unmask.io import save_audio
from unmask.models.checkpoint import load_checkpoint
from unmask.train.data import BalancedBatches, ClipBank, random_crop, trim_silence
from unmask.train.recipe import Recipe, run_recipe
from unmask.train.trainer import TrainConfig, Trainer, file_logits

TINY_MODEL = {"channels": [4, 6], "window_s": 1.0}




def test_trim_silence_drops_leading_and_trailing_quiet():
    speech = voiced(1.0, np.random.default_rng(0))
    padded = np.concatenate([np.zeros(RATE), speech, np.zeros(RATE // 2)]).astype(np.float32)
    trimmed = trim_silence(padded, RATE)
    assert abs(len(trimmed) - len(speech)) < 0.1 * RATE


def test_random_crop_tiles_short_clips_and_is_seeded():
    rng = np.random.default_rng(0)
    crop = random_crop(np.arange(10, dtype=np.float32), 25, rng)
    assert len(crop) == 25 and set(crop) == set(range(10))
    a = random_crop(np.arange(1000.0), 100, np.random.default_rng(3))
    b = random_crop(np.arange(1000.0), 100, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_batches_are_class_balanced_and_sources_drawn_uniformly():
    # Source "big" has 30 real clips, source "small" one: plain sampling would draw "small" 1 time in 31.
    waves = [np.full(400, i, dtype=np.float32) for i in range(33)]
    targets = np.array([0] * 31 + [1, 1])
    groups = np.array(["big"] * 30 + ["small"] + ["x", "y"])
    batches = BalancedBatches(ClipBank(waves, targets, groups, [""] * 33), 20, 100, seed=0)
    draws = []
    for _ in range(50):
        x, y = batches.next_batch()
        assert y.sum() == 10 and x.shape == (20, 100)
        draws += [int(v) for v in x[y == 0, 0]]
    share_small = np.mean([d == 30 for d in draws])
    assert 0.4 < share_small < 0.6


def test_trainer_learns_a_separable_task_and_resumes(tmp_path):
    train, held_out = voiced_vs_buzzy_bank(8, seed=1), voiced_vs_buzzy_bank(6, seed=2)
    config = TrainConfig(model_config=TINY_MODEL, epochs=2, steps_per_epoch=10, batch_size=8, lr=3e-3)
    logs: list[str] = []
    Trainer(config, tmp_path, log=logs.append).fit(train, held_out)
    history = json.loads((tmp_path / "history.json").read_text())["history"]
    assert len(history) == 2
    config.epochs = 4
    ckpt = Trainer(config, tmp_path, log=logs.append).fit(train, held_out)
    assert any("resumed from epoch 1" in line for line in logs)
    history = json.loads((tmp_path / "history.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    eer = compute_eer(file_logits(ckpt.model, held_out), held_out.targets).eer
    assert eer < 0.2, f"held-out EER {eer} on a task a tiny CNN separates in a few dozen steps"


def test_recipe_runs_folds_calibrates_and_exports_a_model_card(tmp_path):
    rng = np.random.default_rng(5)
    records = []
    for source in ("s1", "s2", "s3"):
        for i in range(3):
            for label, make in (("real", voiced), ("fake", buzzy)):
                path = save_audio(tmp_path / "clips" / source / f"{label}{i}.wav", make(1.2, rng), RATE)
                records.append(
                    {"path": str(path), "label": label, "source": source, "system": f"{source}-tts"}
                )
    Manifest.from_records(records, tmp_path).write(tmp_path / "manifest.csv")
    (tmp_path / "recipe.yaml").write_text(
        yaml.safe_dump(
            {
                "manifests": ["manifest.csv"],
                "leave_one_out": "source",
                "augment": [{"name": "gain", "p": 0.5}],
                "trainer": {"model_config": TINY_MODEL, "epochs": 1, "steps_per_epoch": 4, "batch_size": 8},
                "out_dir": "run",
                "export": "exported.pt",
                "card": {"summary": "test card"},
            }
        )
    )
    summary = run_recipe(Recipe.from_yaml(tmp_path / "recipe.yaml"), log=lambda _: None)
    assert set(summary["folds"]) == {"s1", "s2", "s3"}
    assert all(0.0 <= f["eer"] <= 1.0 and f["n_real"] == 3 for f in summary["folds"].values())
    assert summary["calibration"]["method"] == "platt"
    scores = (tmp_path / "run" / "out_of_fold.csv").read_text().splitlines()
    assert len(scores) == 1 + 18  # every clip scored once, by the fold that held its source out
    exported = load_checkpoint(tmp_path / "exported.pt")
    assert exported.card["summary"] == "test card"
    assert exported.card["study"]["folds"]["s2"]["n_fake"] == 3
    assert exported.calibration == summary["calibration"]


def test_recipe_errors_are_clear(tmp_path):
    from unmask.errors import UnmaskError

    (tmp_path / "r.yaml").write_text("trainer: {}\n")
    with pytest.raises(UnmaskError, match="manifests"):
        Recipe.from_yaml(tmp_path / "r.yaml")
    with pytest.raises(UnmaskError, match="cannot read"):
        Recipe.from_yaml(tmp_path / "missing.yaml")


def _weights(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_init_from_starts_fine_tuning_from_a_checkpoints_weights(tmp_path):
    train = voiced_vs_buzzy_bank(4, seed=1)
    base = TrainConfig(model_config=TINY_MODEL, epochs=1, steps_per_epoch=3, batch_size=4, threads=1)
    pretrained = Trainer(base, tmp_path / "pretrained", log=lambda _: None).fit(train)
    start = _weights(pretrained.model)
    # A 1e-12 learning rate keeps the weights where they started, so the result shows the starting point.
    still = TrainConfig(**{**base.__dict__, "lr": 1e-12, "seed": 7, "weight_decay": 0.0})
    tuned = Trainer(
        TrainConfig(**{**still.__dict__, "init_from": str(tmp_path / "pretrained" / "best.pt")}),
        tmp_path / "tuned",
        log=lambda _: None,
    ).fit(train)
    scratch = Trainer(still, tmp_path / "scratch", log=lambda _: None).fit(train)
    conv = next(k for k in start if k.endswith("weight") and start[k].dim() == 4)
    assert torch.allclose(tuned.model.state_dict()[conv], start[conv], atol=1e-6)
    assert not torch.allclose(scratch.model.state_dict()[conv], start[conv], atol=1e-3)


def test_init_from_and_resume_mismatches_are_clear_errors(tmp_path):
    train = voiced_vs_buzzy_bank(3, seed=1)
    base = TrainConfig(model_config=TINY_MODEL, epochs=1, steps_per_epoch=1, batch_size=4, threads=1)
    Trainer(base, tmp_path / "small", log=lambda _: None).fit(train)
    wider = {**TINY_MODEL, "channels": [4, 8]}
    init = str(tmp_path / "small" / "best.pt")
    wider_from_init = TrainConfig(**{**base.__dict__, "model_config": wider, "init_from": init})
    with pytest.raises(UnmaskError, match="do not fit this lcnn configuration") as info:
        Trainer(wider_from_init, tmp_path / "a").fit(train)
    assert "best.pt" in str(info.value)
    with pytest.raises(UnmaskError, match="init_from holds a 'lcnn' model"):
        Trainer(TrainConfig(**{**base.__dict__, "model": "rawnet2", "model_config": {}, "init_from": init}),
                tmp_path / "b").fit(train)  # fmt: skip
    with pytest.raises(UnmaskError, match="state.pt"):  # resuming a run dir made with other weight shapes
        Trainer(TrainConfig(**{**base.__dict__, "model_config": wider, "epochs": 2}), tmp_path / "small").fit(
            train
        )
