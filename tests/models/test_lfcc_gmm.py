import json

import numpy as np
import pytest
import torch
import yaml
from sklearn.mixture import GaussianMixture

from audio_fixtures import RATE, buzzy, voiced, voiced_vs_buzzy_bank
from unmask.data.manifest import Manifest
from unmask.errors import UnmaskError
from unmask.eval.metrics import compute_eer
from unmask.io import save_audio
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.lfcc_gmm import FAKE, REAL
from unmask.models.registry import build_model
from unmask.train.recipe import Recipe, run_recipe
from unmask.train.trainer import TrainConfig, Trainer, file_logits

TINY = {"n_components": 4, "window_s": 1.0, "max_iter": 100}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread avoids spin-waiting, ~5x faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)




def _crops(n_batches: int, seed: int, silence_s: float = 0.0):
    """Batches of 1 s crops, half voiced (real), half buzzy (fake), optionally ending in digital silence."""
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        waves = [(voiced if i % 2 == 0 else buzzy)(1.0 - silence_s, rng) for i in range(8)]
        pad = np.zeros(RATE - len(waves[0]), dtype=np.float32)
        yield np.stack([np.concatenate([w, pad]) for w in waves]), np.arange(8) % 2


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_torch_log_likelihoods_match_sklearn(covariance_type):
    model = build_model("lfcc-gmm", {**TINY, "covariance_type": covariance_type})
    rng = np.random.default_rng(0)
    dim = model.frontend.n_features
    fitted = {}
    for cls, shift in ((REAL, 0.0), (FAKE, 1.5)):
        data = rng.standard_normal((400, dim)) * rng.uniform(0.5, 2.0, dim) + shift
        fitted[cls] = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(data)
        model._store(cls, fitted[cls])
    frames = rng.standard_normal((50, dim)) + 0.7
    ours = model.frame_log_likelihoods(torch.from_numpy(frames)).numpy()
    np.testing.assert_allclose(ours[:, REAL], fitted[REAL].score_samples(frames), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(ours[:, FAKE], fitted[FAKE].score_samples(frames), rtol=1e-9, atol=1e-8)
    # Scoring float32 audio runs the same maths in float32: close to the float64 reference, not equal.
    ours32 = model.frame_log_likelihoods(torch.from_numpy(frames).float()).double().numpy()
    np.testing.assert_allclose(ours32, ours, rtol=1e-5, atol=1e-3)


def test_llr_sign_separates_two_clearly_different_classes():
    model = build_model("lfcc-gmm", TINY)
    report = model.fit_windows(_crops(4, seed=1), seed=0)
    assert report["real"]["frames"] > 1000 and report["fake"]["frames"] > 1000
    rng = np.random.default_rng(9)
    real = torch.from_numpy(np.stack([voiced(1.0, rng) for _ in range(4)]))
    fake = torch.from_numpy(np.stack([buzzy(1.0, rng) for _ in range(4)]))
    with torch.no_grad():
        assert (model(real) < 0).all() and (model(fake) > 0).all()
        # forward on float32 audio (the float32 path) agrees with the float64 frames, window by window
        feats, keep = model.frames(real.double())
        ll = model.frame_log_likelihoods(feats.reshape(-1, feats.shape[-1])).reshape(*feats.shape[:2], 2)
        reference = ((ll[..., FAKE] - ll[..., REAL]) * keep).sum(1) / keep.sum(1)
        np.testing.assert_allclose(model(real).double().numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)


def test_silent_frames_are_left_out_of_fitting_and_scoring():
    model = build_model("lfcc-gmm", TINY)
    rng = np.random.default_rng(2)
    wave = np.concatenate([voiced(0.5, rng), np.zeros(RATE // 2, dtype=np.float32)])
    _, keep = model.frames(torch.from_numpy(wave)[None])
    frames = keep.shape[1]
    assert keep[0, : frames // 2 - 2].all() and not keep[0, frames // 2 + 2 :].any()

    report = model.fit_windows(_crops(2, seed=3, silence_s=0.5), seed=0)
    assert report["real"]["frames"] < 8 * (frames // 2 + 3)  # 8 real crops, about half of each voiced
    # Scoring averages the LLR over the same voiced frames: appending silence barely moves the logit.
    with torch.no_grad():
        speech = torch.from_numpy(np.tile(wave[: RATE // 2], 2))[None]
        half_silent = torch.from_numpy(wave)[None]
        assert torch.isfinite(model(half_silent)).all()
        assert abs(float(model(half_silent)) - float(model(speech))) < 0.2 * abs(float(model(speech))) + 1.0


def test_trains_through_trainer_scores_clips_and_round_trips(tmp_path):
    train, held_out = voiced_vs_buzzy_bank(6, seed=1), voiced_vs_buzzy_bank(4, seed=2)
    config = TrainConfig(threads=1, model="lfcc-gmm", model_config=TINY, batch_size=8, fit_crops=40)
    logs: list[str] = []
    ckpt = Trainer(config, tmp_path, log=logs.append).fit(train, held_out)
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["best_epoch"] == 0 and history["best_val_eer"] < 0.2
    assert (
        history["fit"]["fake"]["frames"] > 1000
        and history["history"][0]["val_eer"] == history["best_val_eer"]
    )
    logits = file_logits(ckpt.model, held_out)
    assert compute_eer(logits, held_out.targets).eer < 0.2

    reloaded = load_checkpoint(tmp_path / "best.pt")  # weights_only=True: buffers only
    x = torch.from_numpy(np.stack([held_out.waves[0][:RATE], held_out.waves[1][:RATE]]))
    with torch.no_grad():
        assert torch.equal(reloaded.model(x), ckpt.model(x))

    # Resuming a finished fit does not fit again.
    Trainer(config, tmp_path, log=logs.append).fit(train, held_out)
    assert any("already fitted" in line for line in logs)


def test_recipe_trains_lfcc_gmm_folds(tmp_path):
    rng = np.random.default_rng(5)
    records = []
    for source in ("s1", "s2"):
        for i in range(3):
            for label, make in (("real", voiced), ("fake", buzzy)):
                path = save_audio(tmp_path / source / f"{label}{i}.wav", make(1.2, rng), RATE)
                records.append({"path": str(path), "label": label, "source": source})
    Manifest.from_records(records, tmp_path).write(tmp_path / "manifest.csv")
    trainer = {"model": "lfcc-gmm", "model_config": TINY, "batch_size": 8, "fit_crops": 24, "threads": 1}
    recipe = {"manifests": ["manifest.csv"], "trainer": trainer, "out_dir": "run", "train_final": False}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    summary = run_recipe(Recipe.from_yaml(tmp_path / "recipe.yaml"), log=lambda _: None)
    assert set(summary["folds"]) == {"s1", "s2"}
    assert all(fold["eer"] < 0.5 for fold in summary["folds"].values())


def test_unfitted_model_and_loss_settings_are_clear_errors(tmp_path):
    with pytest.raises(UnmaskError, match="not been fitted"):
        build_model("lfcc-gmm", TINY)(torch.zeros(1, RATE))
    with pytest.raises(ValueError, match="covariance_type"):
        build_model("lfcc-gmm", {"covariance_type": "tied"})
    config = TrainConfig(
        threads=1, model="lfcc-gmm", model_config=TINY, loss="weighted-bce", class_weights="asvspoof"
    )
    with pytest.raises(UnmaskError, match="fitted by estimation"):
        Trainer(config, tmp_path, log=lambda _: None).fit(voiced_vs_buzzy_bank(2, seed=0))
    with pytest.raises(UnmaskError, match="too few"):
        build_model("lfcc-gmm", {**TINY, "n_components": 5000}).fit_windows(_crops(1, seed=0))


def test_size_description_counts_fitted_values_not_zero_parameters():
    from unmask.models.registry import build_model

    gmm = build_model("lfcc-gmm", {"n_components": 4})
    assert gmm.num_parameters() == 0
    # 2 classes x 4 components x (60 means + 60 precision factors) + 2 x 4 weights
    assert gmm.size_description() == "968 fitted values (no trainable parameters)"
    lcnn = build_model("lcnn", {"channels": [4, 4]})
    assert lcnn.size_description() == f"{lcnn.num_parameters():,} parameters"


@pytest.mark.parametrize(
    "settings", [{}, {"normalise_loudness": False}, {"feature_norm": "cmvn"}, {"silence_db": None}]
)
def test_score_strip_equals_forward_on_every_window(settings):
    model = build_model("lfcc-gmm", {**TINY, **settings})
    model.fit_windows(_crops(2, seed=4), seed=0)
    rng = np.random.default_rng(11)
    # Loudness changes from window to window, and a near-silent stretch, so per-window gains differ.
    parts = [voiced(1.3, rng), 0.05 * buzzy(1.1, rng), 1e-4 * voiced(0.6, rng), buzzy(0.9, rng)]
    strip = np.concatenate(parts)
    strip = torch.from_numpy(strip.astype(np.float32))
    assert model.scores_strips
    with torch.no_grad():
        for hop in (RATE // 2, RATE // 4, RATE):
            reference = model(strip.unfold(0, model.window_samples, hop))
            torch.testing.assert_close(model.score_strip(strip, hop), reference, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="shorter than one window"):
        model.score_strip(strip[: RATE // 2], RATE // 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_logsumexp_equals_torch_including_far_terms_and_infinities(dtype):
    from unmask.models.lfcc_gmm import logsumexp

    rng = np.random.default_rng(0)
    # Mixture-like rows: log-densities spread over hundreds of nats (the far ones underflow to denormals).
    x = torch.from_numpy(rng.normal(-300, 150, size=(500, 2, 64))).to(dtype)
    torch.testing.assert_close(logsumexp(x), torch.logsumexp(x, dim=-1), rtol=0, atol=0)
    close = torch.from_numpy(rng.normal(0, 1, size=(50, 8))).to(dtype)  # every term counts
    torch.testing.assert_close(logsumexp(close), torch.logsumexp(close, dim=-1))
    inf = float("inf")
    special = torch.tensor([[-inf, -inf], [inf, 0.0], [float("nan"), 0.0], [-inf, 2.0]], dtype=dtype)
    expected = torch.logsumexp(special, dim=-1)
    torch.testing.assert_close(logsumexp(special), expected, equal_nan=True)


def test_an_ensemble_fits_members_on_their_own_batches_and_averages_their_llrs(tmp_path):
    model = build_model("lfcc-gmm", {**TINY, "ensemble": 3})
    batches = list(_crops(6, seed=5))
    report = model.fit_windows(iter(batches), seed=0)
    assert len(report["members"]) == 3 and model.means.shape[0] == 6
    assert report["real"]["frames"] == sum(m["real"]["frames"] for m in report["members"])
    # Member m is the single model fitted on batches m, m + 3 with EM seed m, exactly.
    rng = np.random.default_rng(9)
    clip = torch.from_numpy(np.stack([voiced(1.0, rng), buzzy(1.0, rng)]))
    feats, _ = model.frames(clip)
    flat = feats.reshape(-1, feats.shape[-1])
    member_lls = []
    for m in range(3):
        single = build_model("lfcc-gmm", TINY)
        single.fit_windows(iter(batches[m::3]), seed=m)
        torch.testing.assert_close(single.means, model.means[2 * m : 2 * m + 2])
        member_lls.append(single.frame_log_likelihoods(flat))
    torch.testing.assert_close(model.frame_log_likelihoods(flat), torch.stack(member_lls).mean(0))
    with torch.no_grad():
        assert model(clip)[0] < 0 < model(clip)[1]
        strip = torch.cat([clip[0], clip[1]])
        reference = model(strip.unfold(0, model.window_samples, RATE // 2))
        torch.testing.assert_close(model.score_strip(strip, RATE // 2), reference, rtol=1e-4, atol=1e-4)
    save_checkpoint(tmp_path / "ens.pt", Checkpoint(model))
    torch.testing.assert_close(load_checkpoint(tmp_path / "ens.pt").model(clip), model(clip))
    with pytest.raises(UnmaskError, match="2 batches for an ensemble of 3"):
        build_model("lfcc-gmm", {**TINY, "ensemble": 3}).fit_windows(_crops(2, seed=1))
    with pytest.raises(ValueError, match="ensemble must be >= 1"):
        build_model("lfcc-gmm", {**TINY, "ensemble": 0})
