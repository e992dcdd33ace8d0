"""The SpecTTTra music detector: the cached-feature path equals the waveform path, and it can learn."""

from __future__ import annotations

import numpy as np
import torch

from unmask.models.registry import build_model

CONFIG = {"window_s": 6.0, "hop_s": 3.0, "d_model": 32, "n_layers": 1, "dropout": 0.0}


def _songs(n: int, rng: np.random.Generator, comb: bool) -> torch.Tensor:
    """Notes with harmonics; ``comb`` adds a faint periodic spectral comb (an upsampler's trace)."""
    t = np.arange(6 * 16000) / 16000
    out = []
    for _ in range(n):
        f0 = rng.choice([196.0, 220.0, 262.0, 330.0], size=13)[(t * 2).astype(int)]
        x = sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3))
        x = x + 0.01 * rng.standard_normal(len(t))
        if comb:
            x = x + sum(0.008 * np.sin(2 * np.pi * f * t) for f in range(500, 8000, 500))
        out.append(x * rng.uniform(0.3, 1.0))
    return torch.tensor(np.stack(out), dtype=torch.float32)


def test_features_then_classify_is_forward():
    torch.manual_seed(0)
    model = build_model("spectttra", CONFIG).eval()
    wave = _songs(3, np.random.default_rng(0), comb=False)
    with torch.inference_mode():
        torch.testing.assert_close(model.classify(model.features(wave)), model(wave))
    assert model.capabilities.modality == "music" and model.window_samples == 6 * 16000


def test_it_learns_a_spectral_comb_from_cached_features():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    model = build_model("spectttra", CONFIG)
    waves = torch.cat([_songs(16, rng, comb=False), _songs(16, rng, comb=True)])
    labels = torch.cat([torch.zeros(16), torch.ones(16)])
    with torch.no_grad():
        feats = model.features(waves)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model.classify(feats), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    test = torch.cat([_songs(8, rng, comb=False), _songs(8, rng, comb=True)])
    with torch.inference_mode():
        logits = model(test)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score([0] * 8 + [1] * 8, logits.numpy()) >= 0.95  # new songs, not the training ones
