"""unmask.features: spectral front-ends (STFT, mel, MFCC, LFCC, CQT) as differentiable torch modules."""

from unmask.features.registry import FEATURES, build_feature
from unmask.features.spectral import (
    CQT,
    LFCC,
    MFCC,
    Deltas,
    FeatureModule,
    LogMel,
    LogSpectrogram,
    MelSpectrogram,
    Spectrogram,
    compress,
    fft_downsample,
)

__all__ = [
    "CQT",
    "FEATURES",
    "LFCC",
    "MFCC",
    "Deltas",
    "FeatureModule",
    "LogMel",
    "LogSpectrogram",
    "MelSpectrogram",
    "Spectrogram",
    "build_feature",
    "compress",
    "fft_downsample",
]
