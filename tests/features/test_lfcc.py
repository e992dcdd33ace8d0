"""LFCC against an independent numpy transcription of the ASVspoof baseline, and deltas against librosa."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal
import torch

from conftest import SAMPLE_RATE
from unmask.features import LFCC, Deltas

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def matlab_trimf(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    """MATLAB trimf: 0 outside (a, c), rising to 1 at b."""
    y = np.zeros_like(x)
    rising = (a < x) & (x < b)
    falling = (b < x) & (x < c)
    y[rising] = (x[rising] - a) / (b - a)
    y[falling] = (c - x[falling]) / (c - b)
    y[x == b] = 1.0
    return y


def matlab_deltas3(x: np.ndarray) -> np.ndarray:
    """deltas(x, 3) of the baseline (rows = frames here): x[t+1] - x[t-1], edge frames repeated."""
    padded = np.concatenate([x[:1], x, x[-1:]])
    return padded[2:] - padded[:-2]


def lfcc_reference(y: np.ndarray, *, center: bool = True, periodic: bool = True) -> np.ndarray:
    """The baseline written out step by step: [60, frames] = static, delta, delta-delta."""
    n_fft, win_length, hop, n_filters = 512, 320, 160, 20
    y = np.concatenate([y[:1], y[1:] - 0.97 * y[:-1]])  # filter([1 -0.97], 1, x)
    if center:
        y = np.pad(y, n_fft // 2)
    n_frames = 1 + (len(y) - n_fft) // hop
    frames = np.stack([y[i * hop : i * hop + n_fft] for i in range(n_frames)])
    window = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    window[offset : offset + win_length] = scipy.signal.get_window("hamming", win_length, fftbins=periodic)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # [frames, 257]
    freqs = (SAMPLE_RATE / 2) * np.linspace(0, 1, n_fft // 2 + 1)
    edges = np.linspace(freqs.min(), freqs.max(), n_filters + 2)
    bank = np.stack([matlab_trimf(freqs, *edges[i : i + 3]) for i in range(n_filters)], axis=1)
    static = scipy.fft.dct(np.log10(power @ bank + FLOAT32_EPS), type=2, norm="ortho", axis=1)[:, :n_filters]
    delta = matlab_deltas3(static)
    return np.concatenate([static, delta, matlab_deltas3(delta)], axis=1).T


def test_lfcc_matches_numpy_baseline_float64(signal: np.ndarray) -> None:
    ours = LFCC().double()(torch.from_numpy(signal)).numpy()
    ref = lfcc_reference(signal)
    assert ours.shape == ref.shape == (60, 1 + len(signal) // 160)
    # float64 end to end; only FFT rounding (~1e-16 relative) amplified by log10 of small bands remains.
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_lfcc_matlab_framing_variant(signal: np.ndarray) -> None:
    module = LFCC(center=False, periodic_window=False).double()
    ours = module(torch.from_numpy(signal)).numpy()
    ref = lfcc_reference(signal, center=False, periodic=False)
    assert ours.shape == ref.shape and ours.shape[-1] == module.num_frames(len(signal))
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_lfcc_float32_close_to_reference(signal: np.ndarray, speech_clip: np.ndarray) -> None:
    for y in (signal, speech_clip):
        ours = LFCC()(torch.from_numpy(y.astype(np.float32))).numpy()
        ref = lfcc_reference(y.astype(np.float32).astype(np.float64))
        # float32 FFT rounding (~1e-7 of a frame's energy) through log10 and a 20-point DCT: static
        # coefficients are O(10), so 2e-3 absolute is ~1e-4 of their range; deltas add at most 4x that.
        np.testing.assert_allclose(ours, ref, atol=8e-3)


@pytest.mark.parametrize("mode", ["interp", "nearest", "mirror", "wrap", "constant"])
@pytest.mark.parametrize("order", [1, 2])
def test_deltas_match_librosa(signal: np.ndarray, mode: str, order: int) -> None:
    feats = librosa.feature.mfcc(y=signal, sr=SAMPLE_RATE, n_mfcc=13, n_fft=512, hop_length=160)
    for width in (3, 9):
        ours = Deltas(width=width, order=order, mode=mode).double()(torch.from_numpy(feats)).numpy()
        ref = librosa.feature.delta(feats, width=width, order=order, mode=mode)
        np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_unnormalised_deltas_are_plain_differences() -> None:
    x = torch.tensor([[0.0, 1.0, 4.0, 9.0, 16.0]], dtype=torch.float64)
    out = Deltas(width=3, order=1, mode="nearest", normalize=False)(x)
    torch.testing.assert_close(out, torch.tensor([[1.0, 4.0, 8.0, 12.0, 7.0]], dtype=torch.float64))


def test_deltas_reject_too_short_input_for_interp() -> None:
    with pytest.raises(ValueError, match="at least width=9 frames"):
        Deltas(width=9)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="odd integer"):
        Deltas(width=4)


@pytest.mark.parametrize(
    ("settings", "window", "hop"),
    [
        ({}, 16000, 8000),  # the scan default: 50% overlap
        ({}, 16000, 16000),  # no overlap
        ({}, 16000, 1600),  # 90% overlap
        ({}, 16050, 8000),  # window not a whole number of frame hops
        ({"pad_mode": "reflect"}, 16000, 8000),
        ({"pre_emphasis": 0.0, "window": "hann", "win_length": 512}, 16000, 4000),
        ({}, 16000, 8010),  # hop not a whole number of frame hops: no shared framing (fallback)
        ({"center": False}, 16000, 8000),  # uncentred frames: fallback
    ],
)
def test_window_band_energies_equal_window_by_window(signal: np.ndarray, settings, window, hop) -> None:
    lfcc = LFCC(**settings)
    strip = torch.from_numpy(np.tile(signal, 3)[: 3 * SAMPLE_RATE + 123]).float()
    reference = lfcc.band_energies(strip.unfold(0, window, hop))
    shared = lfcc.window_band_energies(strip, window, hop)
    assert shared.shape == reference.shape
    torch.testing.assert_close(shared, reference, rtol=2e-5, atol=1e-6)
    # ... and the LFCC computed from them match the module's own output window by window
    torch.testing.assert_close(lfcc.cepstra(shared), lfcc(strip.unfold(0, window, hop)), rtol=1e-4, atol=1e-3)
