"""Two-views detector ("two-views"): spectral view, SSL view (tiny local wav2vec2), cross-attention fusion."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from audio_fixtures import RATE, buzzy, voiced
from ssl_fixtures import tiny_ssl_dir
from unmask.detect.pipeline import Detector
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.fusion import TwoViews, time_encoding
from unmask.train.data import ClipBank
from unmask.train.trainer import TrainConfig, Trainer

SMALL = {"window_s": 1.0, "spectral_channels": [4, 8], "d_model": 16, "heads": 2}


@pytest.fixture
def ssl_dir(tmp_path):
    return tiny_ssl_dir(tmp_path / "w2v")


def batch(n: int = 2) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.stack([(voiced if i % 2 else buzzy)(1.0, rng) for i in range(n)]))


def test_spectral_branch_alone_needs_no_ssl_directory():
    model = TwoViews({**SMALL, "branches": ["spectral"], "feature": "lfcc"})
    assert not hasattr(model, "ssl") and not hasattr(model, "spectral_attends_ssl")
    logits = model.eval()(batch(3))
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    assert model.config["ssl_config"] is None


def test_ssl_branch_alone(ssl_dir):
    model = TwoViews({**SMALL, "branches": ["ssl"], "ssl_path": str(ssl_dir)})
    assert not hasattr(model, "spectral")
    assert model(batch()).shape == (2,)
    assert model.config["ssl_config"]["model_type"] == "wav2vec2"


def test_both_views_are_fused_by_cross_attention(ssl_dir):
    model = TwoViews({**SMALL, "ssl_path": str(ssl_dir)})
    views = model.views(batch())
    assert views["spectral"].shape[1] == 25 and views["ssl"].shape[1] == 50  # 40 ms and 20 ms frames
    model.train()
    model(batch()).sum().backward()
    # Each fused sequence depends on the other view: both attention blocks and both views get gradients.
    for part in (model.spectral, model.ssl_proj, model.spectral_attends_ssl, model.ssl_attends_spectral):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    # Changing the SSL view changes the fused spectral sequence.
    spectral, ssl = views["spectral"].detach(), views["ssl"].detach()
    model.eval()
    with torch.no_grad():
        a = model.spectral_attends_ssl(spectral, ssl)
        b = model.spectral_attends_ssl(spectral, ssl.flip(1))
    assert not torch.allclose(a, b)


def test_train_save_delete_directory_reload_gives_identical_logits(tmp_path, ssl_dir):
    rng = np.random.default_rng(1)
    waves = [make(1.5, rng) for _ in range(3) for make in (voiced, buzzy)]
    bank = ClipBank(waves, np.array([0, 1] * 3), np.array(["a", "b"] * 3), [f"c{i}" for i in range(6)])
    config = TrainConfig(
        model="two-views",
        model_config={**SMALL, "ssl_path": str(ssl_dir)},
        epochs=1,
        steps_per_epoch=3,
        batch_size=4,
        lr=3e-3,
        threads=1,
    )
    trained = Trainer(config, tmp_path / "run", log=lambda _: None).fit(bank).model
    clip = voiced(2.5, np.random.default_rng(5))
    score = Detector(trained).waveform_logit(clip, RATE)
    assert score is not None and np.isfinite(score)

    save_checkpoint(tmp_path / "two-views.pt", Checkpoint(trained))
    shutil.rmtree(ssl_dir)
    restored = load_checkpoint(tmp_path / "two-views.pt").model
    with torch.no_grad():
        torch.testing.assert_close(restored(batch()), trained.eval()(batch()), rtol=0, atol=0)
    assert Detector(restored).waveform_logit(clip, RATE) == score


def test_time_encoding_gives_the_same_instant_the_same_code_at_any_frame_rate():
    coarse, fine = time_encoding(25, 1.0, 16), time_encoding(50, 1.0, 16)
    # Frame 12 of 25 (centre 0.50 s) vs frames 24/25 of 50 (centres 0.49 s, 0.51 s).
    assert torch.dist(coarse[12], fine[24]) < torch.dist(coarse[12], fine[10])
    assert coarse.shape == (25, 16) and coarse.abs().max() <= 1.0


@pytest.mark.parametrize("branches", [[], ["spectral", "spectral"], ["mel"]])
def test_bad_branches_are_rejected(branches):
    with pytest.raises(ValueError, match="branches must be a non-empty subset"):
        TwoViews({**SMALL, "branches": branches})


def test_two_views_with_the_whisper_encoder_view(tmp_path):
    torch.manual_seed(0)
    model = TwoViews({"ssl_kind": "whisper", "window_s": 2.0, "d_model": 32})
    assert not any(".encoder." in k or k.startswith("ssl.encoder") for k in model.state_dict())
    wave = torch.randn(2, 32000) * 0.1
    logits = model(wave)
    assert logits.shape == (2,)
    logits.sum().backward()
    assert model.ssl.layer_logits.grad is not None and model.ssl.layer_logits.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.ssl.encoder.parameters())  # frozen
    save_checkpoint(tmp_path / "tv.pt", Checkpoint(model, None, {}, version="t"))
    loaded = load_checkpoint(tmp_path / "tv.pt").model.eval()
    with torch.inference_mode():
        torch.testing.assert_close(loaded(wave), model.eval()(wave))
    with pytest.raises(ValueError, match="ssl_kind"):
        TwoViews({"ssl_kind": "onnx"})
