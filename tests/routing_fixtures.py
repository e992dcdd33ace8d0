"""Routing fixtures: synthetic music and noise, a content classifier fitted on them and real speech, and
a routed detector of two tiny models (tests/detect/test_routing.py, tests/service)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from speech_clips import real_speech
from unmask.detect.content import ContentClassifier, frame_features
from unmask.detect.pipeline import Detector
from unmask.detect.routing import RoutedDetector
from unmask.models.registry import build_model
from unmask.signal.noise import coloured_noise

RATE = 16000


def music(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = rng.choice([196.0, 220.0, 262.0, 294.0, 330.0], size=int(seconds * 4) + 1)[(t * 4).astype(int)]
    chord = sum(0.15 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3, 4))
    bass = 0.1 * np.sin(2 * np.pi * f0 / 2 * t)
    return (chord + bass).astype(np.float32)


def noise(seconds: float, seed: int) -> np.ndarray:
    pink = coloured_noise(int(seconds * RATE), "pink", np.random.default_rng(seed))
    return (0.05 * pink).astype(np.float32)


def fit_classifier(workdir: Path) -> ContentClassifier:
    speech = real_speech(40.0, workdir)
    parts = {"speech": speech, "music": np.concatenate([music(20, s) for s in (1, 2)]),
             "noise": np.concatenate([noise(20, s) for s in (3, 4)])}
    feats, labels = [], []
    for label, wave in parts.items():
        f, _ = frame_features(wave)
        feats.append(f)
        labels += [label] * len(f)
    return ContentClassifier.fit(np.concatenate(feats), labels)


def tiny_detector(name: str, config: dict) -> Detector:
    torch.manual_seed(0)
    return Detector(build_model(name, config).eval(), name=name)


def tiny_routed(classifier: ContentClassifier) -> RoutedDetector:
    speech = tiny_detector("lcnn", {"channels": [4, 4], "window_s": 2.0})
    song = tiny_detector("spectttra", {"window_s": 6.0, "hop_s": 3.0, "d_model": 16, "n_layers": 1})
    return RoutedDetector({"speech": speech, "music": song}, classifier)
