"""The detector contract, checked for every registered detector (scikit-learn's check_estimator idea).

Each detector builds from its ``example_config`` with nothing outside the machine and must:
- map ``wave[B, window]`` to ``B`` finite logits, the same for an item alone or in a batch;
- reject unknown config keys, naming them;
- rebuild from its own ``config`` and a checkpoint with the same logits (safe, tensors-only loading);
- give ``score_strip`` numbers equal to window-by-window scoring, whether or not it shares work;
- declare capabilities that match what it implements (embedding contract, estimation fit).
A new model in ``unmask.models`` is covered by this file without any change here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unmask.models.base import MODALITIES, Capabilities, DetectorModel
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.heads import supports_embedding
from unmask.models.registry import available_models

NAMES = sorted(available_models())


def _speechy(n: int, batch: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    rows = [0.2 * np.sin(2 * np.pi * (120 + 40 * b) * t) * (1 + np.sin(2 * np.pi * 3 * t))
            + 0.02 * rng.standard_normal(n) for b in range(batch)]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def _fitted(cls: type[DetectorModel], model: DetectorModel) -> DetectorModel:
    """Estimation models (LFCC-GMM) are fitted on a few crops first: unfitted they refuse to score."""
    if cls.capabilities.training != "estimation":
        return model
    waves = _speechy(model.window_samples, 8, seed=1)
    targets = np.array([0, 1] * 4)
    model.fit_windows(iter([(waves.numpy(), targets)]), seed=0)
    return model


@pytest.fixture(scope="module", params=NAMES)
def built(request, tmp_path_factory):
    cls = available_models()[request.param]
    torch.manual_seed(0)
    config = cls.example_config(tmp_path_factory.mktemp(request.param))
    return cls, config, _fitted(cls, cls(config).eval())


def test_capabilities_are_declared(built):
    cls, _, model = built
    assert isinstance(cls.capabilities, Capabilities)
    assert model.scores_strips == cls.capabilities.scores_strips
    assert supports_embedding(model) == cls.capabilities.embedding
    assert hasattr(model, "fit_windows") == (cls.capabilities.training == "estimation")
    assert cls.capabilities.modality in MODALITIES


def test_windows_give_one_finite_logit_each_batch_or_not(built):
    _, _, model = built
    wave = _speechy(model.window_samples, 3)
    with torch.inference_mode():
        logits = model(wave)
        alone = model(wave[1:2])
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    torch.testing.assert_close(alone, logits[1:2], atol=1e-4, rtol=1e-4)


def test_unknown_config_keys_are_rejected(built):
    cls, config, _ = built
    with pytest.raises(ValueError, match="no_such_setting"):
        cls({**config, "no_such_setting": 1})


def test_checkpoint_round_trip(built, tmp_path):
    cls, _, model = built
    save_checkpoint(tmp_path / "m.pt", Checkpoint(model, None, {"summary": "contract"}, version="t"))
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert type(loaded.model) is cls and loaded.card["summary"] == "contract"
    wave = _speechy(model.window_samples, 2)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model.eval()(wave), model(wave), atol=1e-5, rtol=1e-5)


def test_strip_scores_equal_window_scores(built):
    _, _, model = built
    window = model.window_samples
    hop_s = model.config.get("hop_s") or model.config["window_s"] / 2
    hop = int(round(float(hop_s) * model.sample_rate))
    strip = _speechy(window + 3 * hop, 1)[0]
    with torch.inference_mode():
        by_strip = model.score_strip(strip, hop)
        by_window = model(strip.unfold(-1, window, hop))
    assert by_strip.shape == (4,)
    torch.testing.assert_close(by_strip, by_window, atol=1e-4, rtol=1e-4)
