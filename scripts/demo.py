"""`make demo`: build a few example clips, scan them with the default model, write an HTML report.

The examples are made on the fly from material every machine has after `make`'s set-up, so nothing
with an unclear licence is shipped:
- real: the human voice recordings of Debian's alsa-utils ("Front left", "Rear right", ...), joined;
- fake: espeak-ng text-to-speech, and a Griffin-Lim copy-synthesis of the real clip;
- partly fake: the real clip with a 3 s espeak-ng sentence spliced into its middle.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from unmask.data.synthesize import TtsVoice, get_copy_system
from unmask.io import load_audio, save_audio

RATE = 16000
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
VOICE_CLIPS = (
    "Front_Left",
    "Front_Center",
    "Front_Right",
    "Side_Left",
    "Side_Right",
    "Rear_Left",
    "Rear_Center",
    "Rear_Right",
)
OUT = Path("demo-output")


def real_voice() -> np.ndarray:
    missing = [name for name in VOICE_CLIPS if not (ALSA_SOUNDS / f"{name}.wav").exists()]
    if missing:
        sys.exit(
            f"demo: {ALSA_SOUNDS} lacks {', '.join(missing)}; install Debian's alsa-utils "
            "(scripts/install-system-deps.sh does)"
        )
    gap = np.zeros(int(0.25 * RATE), dtype=np.float32)
    parts = []
    for name in VOICE_CLIPS:
        parts += [load_audio(ALSA_SOUNDS / f"{name}.wav", sample_rate=RATE), gap]
    return np.concatenate(parts)


def make_examples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    real = real_voice()
    save_audio(folder / "real_alsa_voices.wav", real, RATE)
    tts = TtsVoice("espeak-ng", "en-us").speak(
        "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.", rng, RATE
    )
    save_audio(folder / "fake_espeak_tts.wav", tts, RATE)
    copy = get_copy_system("griffinlim").resynthesize(real, RATE, rng)
    save_audio(folder / "fake_griffinlim_copy_of_real.wav", copy, RATE)
    spliced_in = tts[: 3 * RATE] * (
        np.sqrt(np.mean(real**2)) / (np.sqrt(np.mean(tts[: 3 * RATE] ** 2)) + 1e-9)
    )
    middle = len(real) // 2
    partial = np.concatenate([real[:middle], spliced_in.astype(np.float32), real[middle:]])
    save_audio(folder / "partly_fake_spliced.wav", partial, RATE)


def main() -> int:
    examples = OUT / "examples"
    make_examples(examples)
    report = OUT / "report.html"
    command = [
        "unmask",
        "scan",
        str(examples),
        "--report",
        str(report),
        "--out",
        str(OUT / "results.json"),
        "--format",
        "json",
    ]
    print("$", " ".join(command))
    code = subprocess.call([sys.executable, "-m", "unmask.cli.main", *command[1:]])
    if code == 0:
        table = subprocess.call([sys.executable, "-m", "unmask.cli.main", "scan", str(examples)])
        print(f"\nreport: {report.resolve()}\nscores: {(OUT / 'results.json').resolve()}")
        return table
    return code


if __name__ == "__main__":
    raise SystemExit(main())
