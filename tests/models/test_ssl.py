"""SSL front-end detector ("ssl"): tiny random wav2vec2 / HuBERT / WavLM models saved to a local directory.

The encoders are built here with a few thousand weights (same code paths as the real 95M-300M models:
CNN feature encoder with the real 320x stride, transformer layers, hidden states), saved with
``save_pretrained`` and read back through the detector, never downloaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor

from audio_fixtures import RATE, buzzy, voiced
from ssl_fixtures import TINY_SSL, tiny_ssl_dir
from unmask.detect.pipeline import Detector
from unmask.errors import UnmaskError
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.models.ssl import SSLDetector
from unmask.train.data import ClipBank
from unmask.train.trainer import TrainConfig, Trainer

# A small AASIST back-end: same modules as the default, fewer channels, so CPU tests stay fast.
TINY_AASIST = {
    "backend": "aasist",
    "proj_dim": 24,
    "aasist_filts": [[1, 8], [8, 8]],
    "aasist_gat_dims": [8, 8],
}


def clip_bank(n_per_class: int, seed: int) -> ClipBank:
    rng = np.random.default_rng(seed)
    waves, targets = [], []
    for _ in range(n_per_class):
        waves += [voiced(1.5, rng), buzzy(1.5, rng)]
        targets += [0, 1]
    groups = np.array(["a", "b"] * n_per_class)
    return ClipBank(waves, np.array(targets), groups, [f"clip{i}" for i in range(len(waves))])


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm"])
def test_builds_each_model_type_from_a_local_directory_with_its_weights(tmp_path, kind):
    directory = tiny_ssl_dir(tmp_path / kind, kind)
    model = SSLDetector({"ssl_path": str(directory), "window_s": 1.0})
    reference = AutoModel.from_pretrained(directory, local_files_only=True)
    reference_state = reference.state_dict()
    for name, value in model.ssl.model.state_dict().items():
        assert torch.equal(value, reference_state[name]), name
    logits = model.eval()(
        torch.from_numpy(np.stack([voiced(1.0, np.random.default_rng(i)) for i in range(3)]))
    )
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    # The config now rebuilds the architecture on its own.
    assert model.config["ssl_path"] is None
    assert model.config["ssl_config"]["model_type"] == kind
    assert model.config["ssl_source"] == str(directory.resolve())
    assert json.loads(json.dumps(model.config)) == model.config  # plain data: weights_only-loadable


def test_train_score_save_delete_directory_reload_gives_identical_logits(tmp_path):
    directory = tiny_ssl_dir(tmp_path / "w2v")
    model_config = {"ssl_path": str(directory), "window_s": 1.0, **TINY_AASIST}
    config = TrainConfig(
        model="ssl", model_config=model_config, epochs=1, steps_per_epoch=3, batch_size=4, lr=3e-3, threads=1
    )
    trained = Trainer(config, tmp_path / "run", log=lambda _: None).fit(clip_bank(3, seed=1)).model

    # Frozen by default: training moved the back-end and layer weights, not the encoder.
    pretrained = AutoModel.from_pretrained(directory, local_files_only=True).state_dict()
    assert all(torch.equal(v, pretrained[k]) for k, v in trained.ssl.model.state_dict().items())
    untrained = build_model("ssl", model_config)
    assert not torch.equal(trained.ssl.layer_logits, untrained.ssl.layer_logits)

    clip = voiced(2.5, np.random.default_rng(7))
    score = Detector(trained).waveform_logit(clip, RATE)
    assert score is not None and np.isfinite(score)

    save_checkpoint(tmp_path / "ssl.pt", Checkpoint(trained))
    shutil.rmtree(directory)
    restored = load_checkpoint(tmp_path / "ssl.pt").model
    batch = torch.from_numpy(
        np.stack([voiced(1.0, np.random.default_rng(3)), buzzy(1.0, np.random.default_rng(4))])
    )
    with torch.no_grad():
        torch.testing.assert_close(restored(batch), trained.eval()(batch), rtol=0, atol=0)
    assert Detector(restored).waveform_logit(clip, RATE) == score


def _loss_and_grads(model: SSLDetector) -> None:
    model.train()
    wave = torch.from_numpy(np.stack([voiced(1.0, np.random.default_rng(i)) for i in range(2)]))
    model(wave).sum().backward()


def _has_grad(module: torch.nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_frozen_encoder_gets_no_gradients_and_stays_in_eval_mode(tmp_path):
    model = SSLDetector({"ssl_path": str(tiny_ssl_dir(tmp_path / "w")), "window_s": 1.0})
    _loss_and_grads(model)
    assert not model.ssl.model.training  # no dropout or time masking inside a frozen encoder
    assert all(p.grad is None and not p.requires_grad for p in model.ssl.model.parameters())
    assert model.ssl.layer_logits.grad is not None and _has_grad(model.backend)


def test_fine_tuning_trains_the_transformer_and_optionally_the_cnn(tmp_path):
    directory = str(tiny_ssl_dir(tmp_path / "w"))
    model = SSLDetector({"ssl_path": directory, "window_s": 1.0, "freeze_ssl": False})
    _loss_and_grads(model)
    assert model.ssl.model.training
    assert _has_grad(model.ssl.model.encoder)
    assert not _has_grad(model.ssl.model.feature_extractor)  # freeze_feature_encoder defaults to True

    model = SSLDetector(
        {"ssl_path": directory, "window_s": 1.0, "freeze_ssl": False, "freeze_feature_encoder": False}
    )
    _loss_and_grads(model)
    assert _has_grad(model.ssl.model.feature_extractor)


def test_layer_weights_sum_to_one_and_select_hidden_states(tmp_path):
    directory = tiny_ssl_dir(tmp_path / "w")
    model = SSLDetector({"ssl_path": str(directory), "window_s": 1.0, "layers": [0, -1]})
    assert model.ssl.layers == [0, 2]
    assert model.ssl.layer_weights.sum().item() == pytest.approx(1.0)
    wave = torch.from_numpy(voiced(1.0, np.random.default_rng(0)))[None]
    with torch.no_grad():
        model.ssl.layer_logits.copy_(torch.tensor([-50.0, 50.0]))  # all weight on the last layer
        assert model.ssl.layer_weights.sum().item() == pytest.approx(1.0)
        normalised = (wave - wave.mean()) / torch.sqrt(wave.var(correction=0) + 1e-7)
        last = model.ssl.model(normalised, output_hidden_states=True).hidden_states[-1]
        torch.testing.assert_close(model.ssl(wave), F.layer_norm(last, last.shape[-1:]))
    with pytest.raises(ValueError, match="layer 3 does not exist"):
        SSLDetector({"ssl_path": str(directory), "window_s": 1.0, "layers": [3]})


def test_input_normalisation_follows_the_feature_extractor_and_removes_level(tmp_path):
    directory = tiny_ssl_dir(tmp_path / "w")
    wave = torch.from_numpy(voiced(1.0, np.random.default_rng(0)))[None]
    model = SSLDetector({"ssl_path": str(directory), "window_s": 1.0}).eval()
    assert model.config["input_norm"] is True  # no preprocessor_config.json: HF's default
    with torch.no_grad():
        torch.testing.assert_close(model(wave), model(4.0 * wave), rtol=1e-4, atol=1e-4)

    Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(directory)
    raw = SSLDetector({"ssl_path": str(directory), "window_s": 1.0}).eval()
    assert raw.config["input_norm"] is False
    with torch.no_grad():
        assert not torch.allclose(raw.ssl(wave), raw.ssl(4.0 * wave), atol=1e-3)


def test_missing_or_unsupported_directory_gives_a_clear_error(tmp_path):
    with pytest.raises(UnmaskError, match="SSL model directory not found") as missing:
        SSLDetector({"ssl_path": str(tmp_path / "nowhere")})
    assert (
        missing.value.path == str(tmp_path / "nowhere") and "huggingface-cli download" in missing.value.hint
    )

    (tmp_path / "empty").mkdir()
    with pytest.raises(UnmaskError, match="no config.json"):
        SSLDetector({"ssl_path": str(tmp_path / "empty")})

    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(UnmaskError, match="unsupported SSL model type 'bert'"):
        SSLDetector({"ssl_path": str(tmp_path / "bert")})

    (tmp_path / "no-weights").mkdir()
    Wav2Vec2Config(**TINY_SSL).save_pretrained(tmp_path / "no-weights")
    with pytest.raises(UnmaskError, match="cannot load the SSL model"):
        SSLDetector({"ssl_path": str(tmp_path / "no-weights")})

    with pytest.raises(ValueError, match="neither"):
        SSLDetector({})
    with pytest.raises(ValueError, match="16000 Hz"):
        SSLDetector({"ssl_path": str(tiny_ssl_dir(tmp_path / "w")), "sample_rate": 8000})


def test_ssl_config_alone_builds_a_random_encoder_of_that_architecture(tmp_path):
    pinned = SSLDetector({"ssl_path": str(tiny_ssl_dir(tmp_path / "w", "wavlm")), "window_s": 1.0})
    rebuilt = SSLDetector({k: v for k, v in pinned.config.items()})
    assert rebuilt.num_parameters() == pinned.num_parameters()
    assert type(rebuilt.ssl.model) is type(pinned.ssl.model)
    with pytest.raises(ValueError, match="not both"):
        SSLDetector({**pinned.config, "ssl_path": str(tmp_path / "w")})


def test_importing_the_detectors_does_not_import_transformers():
    code = "import sys, unmask.models.ssl, unmask.models.fusion; print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
