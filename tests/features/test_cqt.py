"""Constant-Q transform against librosa.cqt."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from conftest import SAMPLE_RATE, peak_relative_error
from unmask.features import CQT, fft_downsample

CASES = [
    dict(hop_length=160, n_bins=84, bins_per_octave=12, f_min=32.70319566257483),  # the defaults
    dict(hop_length=128, n_bins=96, bins_per_octave=24, f_min=65.0),
    dict(hop_length=512, n_bins=24, bins_per_octave=12, f_min=32.70319566257483),  # early downsampling x16
]


def librosa_cqt(y: np.ndarray, case: dict, **kwargs) -> np.ndarray:
    args = {("fmin" if key == "f_min" else key): value for key, value in case.items()}
    return np.abs(librosa.cqt(y, sr=SAMPLE_RATE, **args, **kwargs))


@pytest.mark.parametrize("case", CASES)
def test_cqt_matches_librosa_same_algorithm(signal: np.ndarray, case: dict) -> None:
    module = CQT(log=None, **case)
    if case["hop_length"] == 512:
        assert module.plan.early_downsample == 16
    ref = librosa_cqt(signal, case, sparsity=0.0, res_type="fft")
    ours64 = module(torch.from_numpy(signal)).numpy()
    assert ours64.shape == ref.shape == (case["n_bins"], module.num_frames(len(signal)))
    # Same arithmetic in float64: only rounding differs.
    assert peak_relative_error(ours64, ref) < 1e-6
    # float32: FFT and basis rounding, ~1e-6 of the peak measured; 1e-5 leaves headroom.
    ours32 = module(torch.from_numpy(signal.astype(np.float32))).numpy()
    assert peak_relative_error(ours32, ref) < 1e-5


def test_cqt_close_to_librosa_defaults(signal: np.ndarray, speech_clip: np.ndarray) -> None:
    # librosa's defaults resample with soxr (a finite filter, not an ideal brick wall) and drop the
    # smallest 1% of each filter's spectrum; the two differ by ~1.4% of the peak on these signals.
    for y in (signal.astype(np.float32), speech_clip.astype(np.float32)):
        ours = CQT(log=None)(torch.from_numpy(y)).numpy()
        ref = librosa_cqt(y, CASES[0])
        assert ours.shape == ref.shape
        assert peak_relative_error(ours, ref) < 3e-2


def test_cqt_db_output(signal: np.ndarray) -> None:
    ref = librosa.amplitude_to_db(librosa_cqt(signal, CASES[0], sparsity=0.0, res_type="fft"), ref=1.0)
    ours = CQT(log="db")(torch.from_numpy(signal)).numpy()
    # Magnitudes agree to ~1e-7 of the peak (float64); in dB that is largest for bins near the -80 dB
    # floor, where it is ~1e-3 of a dB (6e-4 measured).
    np.testing.assert_allclose(ours, ref, atol=5e-3)


def test_cqt_peaks_at_the_tone_frequency() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    module = CQT(log=None)
    tone_hz = float(module.frequencies[50])
    spec = module(torch.from_numpy(np.sin(2 * np.pi * tone_hz * t).astype(np.float32)))
    assert int(spec[:, 20:-20].mean(dim=1).argmax()) == 50


@pytest.mark.parametrize("length", [1000, 1001])
def test_fft_downsample_matches_librosa_resample(length: int) -> None:
    y = np.random.default_rng(3).standard_normal(length)
    ref = librosa.resample(y, orig_sr=2, target_sr=1, res_type="fft", scale=True)
    np.testing.assert_allclose(fft_downsample(torch.from_numpy(y[None]), 2)[0].numpy(), ref, atol=1e-12)


def test_cqt_rejects_filters_above_nyquist() -> None:
    with pytest.raises(ValueError, match="above Nyquist"):
        CQT(f_min=100.0, n_bins=84)
