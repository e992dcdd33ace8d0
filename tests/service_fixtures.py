"""Helpers of the service tests, in a module of their own: several test folders have a conftest.py, so
``from conftest import ...`` could find another folder's."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from audio_fixtures import RATE, buzzy, voiced

TINY = {"channels": [4, 4], "window_s": 1.0}


def tiny_detector():
    import torch

    from unmask.detect.pipeline import Detector
    from unmask.models.registry import build_model

    torch.manual_seed(0)
    return Detector(build_model("lcnn", TINY), name="tiny", version="1")


def wav_bytes(seconds: float = 2.0, seed: int = 0, fake: bool = False, fmt: str = "WAV") -> bytes:
    rng = np.random.default_rng(seed)
    wave = buzzy(seconds, rng) if fake else voiced(seconds, rng)
    buffer = io.BytesIO()
    sf.write(buffer, wave, RATE, format=fmt)
    return buffer.getvalue()
