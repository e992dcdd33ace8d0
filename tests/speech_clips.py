"""Real speech for parity tests of the pretrained front-ends: the ALSA test recordings that Debian ships
(``alsa-utils``: a person saying "Front center" etc.), else a clip spoken by espeak-ng; skips without."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ALSA_SOUNDS = Path("/usr/share/sounds/alsa")


def real_speech(seconds: float, tmp_dir: Path, rate: int = 16000) -> np.ndarray:
    """About ``seconds`` of real speech at ``rate`` (float32 mono, [-1, 1]): ALSA recordings back to back,
    or espeak-ng speaking a sentence when they are absent; skips the test when neither is there."""
    from unmask.io import load_audio

    files = sorted(ALSA_SOUNDS.glob("*.wav")) if ALSA_SOUNDS.is_dir() else []
    files = [f for f in files if f.name != "Noise.wav"]
    if not files:
        if shutil.which("espeak-ng") is None:
            pytest.skip(f"no real speech: {ALSA_SOUNDS} is absent and espeak-ng is not installed")
        wav = tmp_dir / "espeak.wav"
        text = "The quick brown fox jumps over the lazy dog, then rests beside the river for a while."
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
        files = [wav]
    clips, total = [], 0
    while total < seconds * rate:
        for path in files:
            clips.append(load_audio(path, rate))
            total += len(clips[-1])
            if total >= seconds * rate:
                break
    return np.concatenate(clips)[: int(seconds * rate)].astype(np.float32)
