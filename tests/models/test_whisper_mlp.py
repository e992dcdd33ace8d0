"""whisper-mlp: strips encode each block once with the same numbers, checkpoints hold no frozen weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speech_clips import real_speech
from unmask.detect.pipeline import Detector
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import build_model


@pytest.fixture(scope="module")
def pretrained():
    torch.manual_seed(0)
    return build_model("whisper-mlp").eval()


def test_strip_scores_equal_window_scores_on_real_speech(pretrained, tmp_path):
    strip = torch.from_numpy(real_speech(13.0, tmp_path))
    hop = pretrained.block_samples
    with torch.inference_mode():
        by_strip = pretrained.score_strip(strip, hop)
        by_window = pretrained(strip.unfold(-1, pretrained.window_samples, hop))
    assert by_strip.shape == (5,)
    torch.testing.assert_close(by_strip, by_window, atol=1e-5, rtol=0)


def test_other_hops_fall_back_to_windows(pretrained, tmp_path):
    strip = torch.from_numpy(real_speech(7.0, tmp_path))
    with torch.inference_mode():
        got = pretrained.score_strip(strip, 16000)
        expected = pretrained(strip.unfold(-1, pretrained.window_samples, 16000))
    torch.testing.assert_close(got, expected)


def test_checkpoint_holds_only_the_back_end_and_round_trips(pretrained, tmp_path):
    keys = pretrained.state_dict().keys()
    assert keys and not any(k.startswith("encoder.") for k in keys)
    path = tmp_path / "m.pt"
    save_checkpoint(path, Checkpoint(pretrained, None, {}, version="t"))
    assert path.stat().st_size < 2_000_000  # the 7.6M-parameter encoder is not in it
    loaded = load_checkpoint(path).model.eval()
    wave = torch.from_numpy(real_speech(4.0, tmp_path))[None]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(wave), pretrained(wave))


def test_a_fine_tuned_encoder_is_saved():
    model = build_model("whisper-mlp", {"pretrained": False, "freeze_encoder": False})
    assert any(k.startswith("encoder.") for k in model.state_dict())
    assert any(p.requires_grad for p in model.encoder.parameters())
    frozen = build_model("whisper-mlp", {"pretrained": False})
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert any(k.startswith("encoder.") for k in frozen.state_dict())  # random weights: kept


def test_layers_select_hidden_states_and_bad_configs_are_rejected():
    model = build_model("whisper-mlp", {"pretrained": False, "layers": [1, 3]})
    with torch.inference_mode():
        assert model.encode_blocks(torch.randn(3, model.block_samples) * 0.1).shape == (3, 2, 50, 384)
    with pytest.raises(ValueError, match="layers"):
        build_model("whisper-mlp", {"pretrained": False, "layers": [5]})
    with pytest.raises(ValueError, match="whole number of blocks"):
        build_model("whisper-mlp", {"pretrained": False, "window_s": 3.0})
    with pytest.raises(ValueError, match="unknown encoder"):
        build_model("whisper-mlp", {"pretrained": False, "encoder": "large"})


def test_detector_uses_the_model_hop_unless_told_otherwise(pretrained):
    assert Detector(pretrained).hop_s == 2.0
    assert Detector(build_model("lcnn")).hop_s == Detector(build_model("lcnn")).window_s / 2
    custom = Detector(pretrained).with_settings(window_s=4.0)
    assert custom.hop_s == 2.0  # an explicit window falls back to half of it
    assert Detector(pretrained).with_settings(hop_s=1.0).hop_s == 1.0


def test_detector_scan_matches_the_model_on_a_file(pretrained, tmp_path):
    from unmask.io import save_audio

    wave = real_speech(8.0, tmp_path)
    save_audio(tmp_path / "clip.wav", wave, 16000)
    result = Detector(pretrained).scan(tmp_path / "clip.wav")
    assert result.verdict != "error" and len(result.timeline) == 3
    with torch.inference_mode():
        expected = pretrained(torch.from_numpy(np.stack([wave[s : s + 64000] for s in (0, 32000, 64000)])))
    got = np.array([w.fake_probability for w in result.timeline])
    np.testing.assert_allclose(got, torch.sigmoid(expected).numpy(), atol=2e-3)
