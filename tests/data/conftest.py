"""Fixtures for the data tests: tiny real audio files written with soundfile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REALWORLD_MANIFEST = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realworld-dev" / "manifest.csv"
)


def write_audio(path: Path, *, seconds: float = 0.1, rate: int = 16000, seed: int = 0) -> Path:
    """A short noise clip; the format follows the suffix (.wav, .flac). ``seed`` changes the bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * rate)).astype(np.float32)
    sf.write(path, noise, rate)
    return path


@pytest.fixture
def audio() -> Callable[..., Path]:
    return write_audio


@pytest.fixture
def realworld_manifest() -> Path:
    if not REALWORLD_MANIFEST.is_file():
        pytest.skip(f"shared data absent: {REALWORLD_MANIFEST} (the ../shared realworld-dev set)")
    return REALWORLD_MANIFEST
