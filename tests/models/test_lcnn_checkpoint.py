import numpy as np
import pytest
import torch

from audio_fixtures import voiced
from unmask.errors import UnmaskError
from unmask.models.base import normalise_loudness
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import available_models, build_model

TINY = {"channels": [4, 6], "window_s": 1.0}


def _batch(n: int = 3, seconds: float = 1.0) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.stack([voiced(seconds, rng) for _ in range(n)]))


def test_registry_lists_and_builds_detectors():
    assert "lcnn" in available_models()
    with pytest.raises(KeyError, match="available"):
        build_model("no-such-detector")
    with pytest.raises(ValueError, match="unknown config keys"):
        build_model("lcnn", {"chanels": [4]})


@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.3])
def test_lcnn_gives_one_logit_per_item_for_any_length_and_trains(seconds):
    model = build_model("lcnn", TINY)
    x = _batch(seconds=seconds).requires_grad_()
    logits = model(x)
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    logits.sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert x.grad.abs().sum() > 0


def test_lcnn_is_blind_to_recording_level():
    """Loudness normalisation inside the model: a 20 dB quieter copy scores the same."""
    model = build_model("lcnn", TINY).eval()
    x = _batch()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), model(0.1 * x).numpy(), atol=1e-4)
    quiet = normalise_loudness(torch.full((1, 100), 1e-9))
    assert quiet.abs().max() < 1e-6  # near-silence is not blown up to full level


def test_checkpoint_round_trip_keeps_weights_config_calibration_and_card(tmp_path):
    model = build_model("lcnn", TINY).eval()
    card = {"summary": "t", "eer": np.float64(0.25), "per_source": {"a": np.float32(0.5)}, "n": np.int64(3)}
    save_checkpoint(tmp_path / "m.pt", Checkpoint(model, {"method": "platt", "scale": 2.0}, card, "1.2"))
    loaded = load_checkpoint(tmp_path / "m.pt")
    x = _batch()
    with torch.no_grad():
        np.testing.assert_allclose(loaded.model(x).numpy(), model(x).numpy(), atol=1e-6)
    assert loaded.model.config == model.config
    assert loaded.calibration["scale"] == 2.0 and loaded.version == "1.2"
    assert loaded.card == {"summary": "t", "eer": 0.25, "per_source": {"a": 0.5}, "n": 3}
    assert not list(tmp_path.glob("*.tmp"))


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(UnmaskError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(UnmaskError, match="junk.pt"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(UnmaskError, match="format tag"):
        load_checkpoint(foreign)
    model = build_model("lcnn", TINY)
    save_checkpoint(tmp_path / "new.pt", Checkpoint(model))
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "new.pt")
    with pytest.raises(UnmaskError, match="upgrade"):
        load_checkpoint(tmp_path / "new.pt")
