"""Spectrogram, mel and MFCC parity with librosa, plus the log/dB compression."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from conftest import SAMPLE_RATE, peak_relative_error
from unmask.features import MFCC, LogMel, LogSpectrogram, MelSpectrogram, Spectrogram, compress, filters

STFT = dict(n_fft=512, win_length=400, hop_length=160)

# Linear spectra in float32: torch and numpy use different FFT code, each exact to ~1e-7 of a frame's
# energy, so we bound the error relative to the spectrogram's peak (1e-5 leaves two orders of headroom).
FLOAT32_PEAK_RTOL = 1e-5
# Log/dB spectra are compared in float64 (module.double(), so windows and filterbanks are float64 too) so
# that near-floor bins, where float32 rounding is a large *relative* error, cannot hide a formula mistake;
# 1e-9 is float64 rounding after a few hundred operations. Where mel bins sit near the floor (log(1e-6)),
# the two FFT implementations' rounding (~1e-16 of a frame's energy) is a larger relative error, so mel
# logs get 1e-6 and cepstra, which sum 40 such values of up to ~200, 1e-5 (5e-8 of their range).
FLOAT64_ATOL = 1e-9
FLOAT64_LOGMEL_ATOL = 1e-6
FLOAT64_CEPSTRUM_ATOL = 1e-5


def test_filterbank_matches_librosa_for_every_scale_and_norm() -> None:
    for scale in ("slaney", "htk"):
        for norm in ("slaney", None):
            ours = filters.mel_filterbank(
                SAMPLE_RATE, 512, 64, f_min=50.0, f_max=7600.0, scale=scale, norm=norm
            )
            ref = librosa.filters.mel(
                sr=SAMPLE_RATE, n_fft=512, n_mels=64, fmin=50.0, fmax=7600.0, htk=scale == "htk", norm=norm
            )
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12 * ref.max())


def test_dct_matrix_is_scipy_orthonormal_dct() -> None:
    import scipy.fft

    x = np.random.default_rng(1).standard_normal((40, 7))
    np.testing.assert_allclose(filters.dct_matrix(13, 40) @ x, scipy.fft.dct(x, axis=0, norm="ortho")[:13])


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_spectrogram_matches_librosa_stft(signal: np.ndarray, power: float) -> None:
    y = signal.astype(np.float32)
    ours = Spectrogram(power=power, **STFT)(torch.from_numpy(y)).numpy()
    ref = np.abs(librosa.stft(y, **STFT)) ** power
    assert ours.shape == ref.shape == (257, 1 + len(y) // 160)
    assert peak_relative_error(ours, ref) < FLOAT32_PEAK_RTOL


def test_spectrogram_hamming_uncentred_reflect(signal: np.ndarray) -> None:
    y = signal.astype(np.float32)
    for center, pad_mode in ((False, "constant"), (True, "reflect")):
        module = Spectrogram(window="hamming", center=center, pad_mode=pad_mode, **STFT)
        ref = np.abs(librosa.stft(y, window="hamming", center=center, pad_mode=pad_mode, **STFT)) ** 2
        ours = module(torch.from_numpy(y)).numpy()
        assert ours.shape == ref.shape and ours.shape[-1] == module.num_frames(len(y))
        assert peak_relative_error(ours, ref) < FLOAT32_PEAK_RTOL


def test_log_and_db_compression_match_librosa(signal: np.ndarray) -> None:
    power = np.abs(librosa.stft(signal, **STFT)) ** 2
    x = torch.from_numpy(signal)
    db = Spectrogram(log="db", **STFT).double()(x).numpy()
    np.testing.assert_allclose(db, librosa.power_to_db(power, ref=1.0, top_db=80.0), atol=FLOAT64_ATOL)
    amp_db = Spectrogram(log="db", power=1.0, **STFT).double()(x).numpy()
    ref_amp_db = librosa.amplitude_to_db(np.sqrt(power), ref=1.0, top_db=80.0)
    np.testing.assert_allclose(amp_db, ref_amp_db, atol=1e-7)  # sqrt then log: a few ulps more
    log_spec = LogSpectrogram(eps=1e-6, **STFT).double()(x).numpy()
    np.testing.assert_allclose(log_spec, np.log(power + 1e-6), atol=FLOAT64_ATOL)


def test_db_floor_is_per_item_not_per_batch() -> None:
    loud = torch.full((1, 3, 4), 1.0)
    quiet = torch.full((1, 3, 4), 1e-6)
    quiet[0, 0, 0] = 1e-9  # 30 dB under this item's own peak: kept (top_db=80)
    out = compress(torch.cat([loud, quiet]), "db", eps=0.0, top_db=80.0)
    assert out[1, 0, 0].item() == pytest.approx(-90.0, abs=1e-4)  # a batch-wide max would clip it to -80 dB
    assert out[0].eq(0.0).all()


@pytest.mark.parametrize(
    "settings",
    [
        dict(n_mels=80),
        dict(n_mels=40, f_min=20.0, f_max=7600.0, mel_scale="htk", norm=None),
        dict(n_mels=128, n_fft=1024, win_length=1024, hop_length=256),
    ],
)
def test_mel_spectrogram_matches_librosa(signal: np.ndarray, settings: dict) -> None:
    y = signal.astype(np.float32)
    settings = {**STFT, **settings}
    ours = MelSpectrogram(**settings)(torch.from_numpy(y)).numpy()
    ref = librosa.feature.melspectrogram(
        y=y, sr=SAMPLE_RATE, n_fft=settings["n_fft"], win_length=settings["win_length"],
        hop_length=settings["hop_length"], n_mels=settings["n_mels"], fmin=settings.get("f_min", 0.0),
        fmax=settings.get("f_max"), htk=settings.get("mel_scale") == "htk",
        norm=settings.get("norm", "slaney"),
    )  # fmt: skip
    assert ours.shape == ref.shape
    assert peak_relative_error(ours, ref) < FLOAT32_PEAK_RTOL


def test_logmel_is_log_of_mel(signal: np.ndarray) -> None:
    x = torch.from_numpy(signal)
    mel = librosa.feature.melspectrogram(y=signal, sr=SAMPLE_RATE, n_mels=80, **STFT)
    ours = LogMel(**STFT).double()(x).numpy()
    np.testing.assert_allclose(ours, np.log(mel + 1e-6), atol=FLOAT64_LOGMEL_ATOL)


@pytest.mark.parametrize("lifter", [0.0, 22.0])
def test_mfcc_matches_librosa(signal: np.ndarray, lifter: float) -> None:
    ref = librosa.feature.mfcc(y=signal, sr=SAMPLE_RATE, n_mfcc=20, n_mels=40, lifter=lifter, **STFT)
    ours64 = MFCC(lifter=lifter, **STFT).double()(torch.from_numpy(signal)).numpy()
    np.testing.assert_allclose(ours64, ref, atol=FLOAT64_CEPSTRUM_ATOL)
    # float32: cepstra are sums of 40 dB values up to ~200 in size; 1e-3 absolute is ~1e-5 of their range.
    ours32 = MFCC(lifter=lifter, **STFT)(torch.from_numpy(signal.astype(np.float32))).numpy()
    y32 = signal.astype(np.float32)
    ref32 = librosa.feature.mfcc(y=y32, sr=SAMPLE_RATE, lifter=lifter, n_mels=40, **STFT)
    np.testing.assert_allclose(ours32, ref32, atol=1e-3)


def test_mfcc_natural_log_variant(signal: np.ndarray) -> None:
    mel = librosa.feature.melspectrogram(y=signal, sr=SAMPLE_RATE, n_mels=40, **STFT)
    ref = librosa.feature.mfcc(S=np.log(mel + 1e-6), n_mfcc=13)
    ours = MFCC(log="log", n_mfcc=13, **STFT).double()(torch.from_numpy(signal)).numpy()
    np.testing.assert_allclose(ours, ref, atol=FLOAT64_CEPSTRUM_ATOL)


def test_real_speech_clip_logmel_and_mfcc(speech_clip: np.ndarray) -> None:
    y = speech_clip.astype(np.float32)
    mel = MelSpectrogram(**STFT)(torch.from_numpy(y)).numpy()
    ref_mel = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_mels=80, **STFT)
    assert peak_relative_error(mel, ref_mel) < FLOAT32_PEAK_RTOL
    mfcc = MFCC(**STFT).double()(torch.from_numpy(speech_clip)).numpy()
    ref = librosa.feature.mfcc(y=speech_clip, sr=SAMPLE_RATE, n_mfcc=20, n_mels=40, **STFT)
    np.testing.assert_allclose(mfcc, ref, atol=FLOAT64_CEPSTRUM_ATOL)
