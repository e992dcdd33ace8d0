"""Train the speech / music / noise content classifier (unmask.detect.content) and write its weights.

    python scripts/train_content_classifier.py --speech ../data/pool/manifest.csv \
        --speech ../shared/data/realworld-dev/manifest.csv --music ../data/music/manifest.csv \
        --out src/unmask/assets/content.npz

The frames come from three places:
- **speech:** up to 8 one-second frames from each of up to ``--per-source`` clips per source of the speech
  manifests, real and fake alike (a fake is speech too);
- **music:** up to 8 frames from each music excerpt;
- **noise:** generated, seeded: white, pink and brown noise, band-limited noise, mains hum under noise,
  and noise with a slow loudness swell (wind, traffic).

A quarter of the speech frames get a music bed 5-15 dB below them and stay "speech", so a podcast with
music under the voice still goes to the speech detector. Speech and noise then go through the music
pool's encoding chain (MP3 96 kbit/s), as the music did, and the features stop at 7 kHz: "was encoded"
must not stand in for "music".

The split holds out whole sources. Every 4th speech source, music source and noise kind is test, and the
script prints the held-out accuracy per class. The weights written are then refitted on everything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from unmask.data.manifest import read_manifest
from unmask.data.music_pool import EncodingChain
from unmask.detect.content import CLASSES, RATE, ContentClassifier, frame_features
from unmask.errors import UnmaskError
from unmask.io import load_audio
from unmask.signal.core import add_at_snr
from unmask.signal.noise import coloured_noise

FRAMES_PER_CLIP = 8


def clip_frames(path: Path, seconds: float = FRAMES_PER_CLIP) -> np.ndarray | None:
    try:
        return load_audio(path, RATE, duration_s=seconds)
    except UnmaskError:
        return None


def speech_waves(manifests: list[Path], per_source: int, rng) -> list[tuple[np.ndarray, str]]:
    out = []
    for path in manifests:
        manifest = read_manifest(path).filter(domain="speech")
        frame = manifest.to_frame()
        paths = manifest.abs_paths()
        for source, rows in frame.groupby("source").groups.items():
            picks = rng.permutation(list(rows))[:per_source]
            out += [(w, f"speech:{source}") for w in (clip_frames(paths[i]) for i in picks) if w is not None]
    return out


def music_waves(manifest: Path) -> list[tuple[np.ndarray, str]]:
    parsed = read_manifest(manifest)
    sources = parsed.to_frame()["source"].tolist()
    return [(w, f"music:{s}") for w, s in ((clip_frames(p), s) for p, s in zip(parsed.abs_paths(), sources,
                                                                             strict=True)) if w is not None]


def noise_waves(n: int, rng) -> list[tuple[np.ndarray, str]]:
    from scipy.signal import butter, sosfilt

    t = np.arange(FRAMES_PER_CLIP * RATE) / RATE
    def noise(colour: str) -> np.ndarray:
        return coloured_noise(len(t), colour, rng)

    def band() -> np.ndarray:
        sos = butter(4, sorted(rng.uniform(100, 7000, 2)), "bandpass", fs=RATE, output="sos")
        return sosfilt(sos, noise("white"))

    kinds = {
        "white": lambda: noise("white"), "pink": lambda: noise("pink"), "brown": lambda: noise("brown"),
        "band": band,
        "hum": lambda: np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t) + 0.5 * noise("pink"),
        "swell": lambda: noise("pink") * (1.2 + np.sin(2 * np.pi * rng.uniform(0.05, 0.4) * t)),
    }
    out = []
    for k in range(n):
        name = list(kinds)[k % len(kinds)]
        wave = kinds[name]()
        out.append(((wave / (np.abs(wave).max() + 1e-9) * rng.uniform(0.05, 0.5)).astype(np.float32),
                    f"noise:{name}"))
    return out


def with_music_bed(speech: list, music: list, rng, share: float = 0.25) -> list:
    out = []
    for wave, group in speech:
        if rng.random() < share and music:
            bed = music[rng.integers(len(music))][0]
            bed = np.resize(bed, len(wave))
            mixed = add_at_snr(wave.astype(np.float64), bed.astype(np.float64), rng.uniform(5, 15))
            wave = mixed.astype(np.float32)
        out.append((wave, group))
    return out


def to_frames(waves: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    feats, labels, groups = [], [], []
    for wave, group in waves:
        f, level = frame_features(wave)
        keep = level > -60.0  # silence is a rule, not a class
        feats.append(f[keep])
        labels += [group.split(":")[0]] * int(keep.sum())
        groups += [group] * int(keep.sum())
    return np.concatenate(feats), np.array(labels), np.array(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", type=Path, action="append", required=True)
    parser.add_argument("--music", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-source", type=int, default=40)
    parser.add_argument("--noise-clips", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    music = music_waves(args.music)
    speech = with_music_bed(speech_waves(args.speech, args.per_source, rng), music, rng)
    # The music pool went through its chain (MP3 96 kbit/s); speech and noise go through the same one,
    # so that "was encoded" is not a cue for "music".
    chain = EncodingChain()
    others = [(chain.apply(w), g) for w, g in speech + noise_waves(args.noise_clips, rng)]
    feats, labels, groups = to_frames(others + music)
    names = sorted(set(groups))
    test_groups = {g for i, g in enumerate(sorted(names, key=lambda g: (g.split(":")[0], g))) if i % 4 == 0}
    test = np.isin(groups, list(test_groups))
    held = ContentClassifier.fit(feats[~test], labels[~test])
    scores = ((feats[test] - held.mean) / held.scale) @ held.weights.T + held.bias
    predicted = np.array(CLASSES)[scores.argmax(axis=1)]
    print(f"{len(feats)} frames; held out {len(test_groups)} of {len(names)} sources/kinds "
          f"({int(test.sum())} frames)")
    for name in CLASSES:
        mask = labels[test] == name
        accuracy = np.mean(predicted[mask] == name)
        print(f"  {name:7} held-out accuracy {accuracy:.3f} on {int(mask.sum())} frames")
    ContentClassifier.fit(feats, labels).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
