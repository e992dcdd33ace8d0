"""What a stretch of audio holds (speech, music, noise or silence), so a scan can send each part to a detector
of its kind (:mod:`unmask.detect.routing`).

The classifier is deliberately small: a multinomial logistic regression over one-second frames. Each frame
is summed up by the mean and standard deviation of 64 log-mel bands, plus two statistics that separate
the classes well:
- the 2-8 Hz modulation energy of the frame's loudness (syllables);
- the spectral flatness (noise is flat; tones and voices are not).

Silence is a rule, not a class: a frame below ``silence_dbfs`` is silence. Frame labels are smoothed with
a median over ``smooth`` frames, and runs shorter than ``min_part_s`` join a neighbour. This way a breath
between words does not split a speech part, and a one-second jingle does not become a music part.

Weights live in a small ``.npz`` (``src/unmask/assets/content.npz``, made by
``scripts/train_content_classifier.py``), loaded with ``allow_pickle=False``. A file from anywhere cannot
run code when it is loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASSES = ("speech", "music", "noise")
SILENCE = "silence"
RATE = 16000
FRAME_S = 1.0
N_MELS = 64
N_FFT = 512
HOP = 160  # 10 ms STFT hop
# Features look at 0-7 kHz only. Above that, what a file went through (an MP3 encoder's low-pass, a
# phone band) says more than what it holds: trained on MP3'd music beside clean speech, a classifier
# that read the top band called every un-encoded song "speech".
F_MAX = 7000.0


@dataclass(frozen=True)
class Part:
    """A stretch of a file and what it holds."""

    start_s: float
    end_s: float
    content: str


@functools.cache
def _mel_filterbank() -> np.ndarray:
    from unmask.features.filters import mel_filterbank

    return np.asarray(mel_filterbank(RATE, N_FFT, N_MELS, f_max=F_MAX), dtype=np.float32)


def frame_features(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(features [frames, 2 * N_MELS + 2], level_dbfs [frames])`` of a 16 kHz mono wave, one frame per
    second (a last partial frame of at least half a second counts)."""
    per_frame = int(FRAME_S * RATE)
    n = max(1, int(np.floor(len(wave) / per_frame + 0.5)))
    feats, levels = [], []
    for k in range(n):
        chunk = np.asarray(wave[k * per_frame : (k + 1) * per_frame], dtype=np.float32)
        if len(chunk) < N_FFT:
            chunk = np.pad(chunk, (0, N_FFT - len(chunk)))
        feats.append(_one_frame(chunk))
        levels.append(20 * np.log10(np.sqrt(np.mean(chunk.astype(np.float64) ** 2)) + 1e-12))
    return np.stack(feats), np.array(levels)


def _one_frame(chunk: np.ndarray) -> np.ndarray:
    from scipy.signal import stft

    freqs, _, spec = stft(chunk, fs=RATE, nperseg=N_FFT, noverlap=N_FFT - HOP, boundary=None, padded=False)
    power = np.abs(spec[freqs <= F_MAX]) ** 2 + 1e-10
    mel = np.log(_mel_filterbank()[:, : power.shape[0]] @ power + 1e-10)
    loudness = mel.mean(axis=0)
    modulation = _modulation_energy(loudness)
    flatness = float(np.mean(np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)))
    mel = mel - mel.mean()  # level-blind: only the shape of the spectrum counts
    return np.concatenate([mel.mean(axis=1), mel.std(axis=1), [modulation, flatness]]).astype(np.float32)


def _modulation_energy(loudness: np.ndarray) -> float:
    """Share of the loudness curve's variance between 2 and 8 Hz (100 frames per second)."""
    centred = loudness - loudness.mean()
    spectrum = np.abs(np.fft.rfft(centred)) ** 2
    freqs = np.fft.rfftfreq(len(centred), d=HOP / RATE)
    band = (freqs >= 2.0) & (freqs <= 8.0)
    return float(spectrum[band].sum() / (spectrum[1:].sum() + 1e-12))


@dataclass
class ContentClassifier:
    """Standardisation + multinomial logistic regression over :func:`frame_features`."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # [classes, dims]
    bias: np.ndarray  # [classes]
    classes: tuple[str, ...] = CLASSES
    silence_dbfs: float = -60.0
    smooth: int = 3
    min_part_s: float = 3.0

    @classmethod
    def fit(cls, features: np.ndarray, labels: Iterable[str], c: float = 1.0) -> ContentClassifier:
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(list(labels))
        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        model.fit((features - mean) / scale, labels)
        order = [list(model.classes_).index(name) for name in CLASSES]
        return cls(mean, scale, model.coef_[order], model.intercept_[order])

    def frame_labels(self, wave: np.ndarray) -> list[str]:
        """One label per second: a class, or silence."""
        feats, levels = frame_features(wave)
        scores = ((feats - self.mean) / self.scale) @ self.weights.T + self.bias
        labels = [self.classes[i] for i in scores.argmax(axis=1)]
        return [SILENCE if level < self.silence_dbfs else label for label, level in zip(labels, levels,
                                                                                            strict=True)]

    def parts(self, wave: np.ndarray) -> list[Part]:
        """The file as runs of one content each, smoothed (see the module docstring)."""
        return self._parts(self.frame_labels(wave), len(wave) / RATE)

    def parts_of_chunks(self, chunks: Iterable[np.ndarray]) -> tuple[list[Part], float]:
        """:meth:`parts` of a file that arrives in consecutive chunks at 16 kHz (``unmask.io.iter_chunks``),
        and its duration in seconds. Only a chunk and one label per second are held, so a long file is
        classified in constant memory; the parts are those :meth:`parts` gives for the whole wave."""
        per_frame = int(FRAME_S * RATE)
        carry = np.zeros(0, dtype=np.float32)  # the samples of a frame not yet complete
        labels: list[str] = []
        total = 0
        for chunk in chunks:
            total += len(chunk)
            data = np.concatenate([carry, chunk]) if len(carry) else np.asarray(chunk, dtype=np.float32)
            whole = len(data) // per_frame * per_frame
            if whole:
                labels += self.frame_labels(data[:whole])
            carry = data[whole:]
        # frame_features counts a last partial frame of at least half a frame (or one that is all there is)
        if len(carry) and (len(carry) >= per_frame / 2 or not labels):
            labels += self.frame_labels(carry)
        return self._parts(labels, total / RATE), total / RATE

    def _parts(self, frame_labels: list[str], end_s: float) -> list[Part]:
        labels = _median_labels(frame_labels, self.smooth)
        runs = _merge_short(_runs(labels), self.min_part_s / FRAME_S)
        if not runs:
            return []
        # the last part runs to the end: a last partial frame under half a frame has no label of its own
        ends = [b * FRAME_S for _, b, _ in runs[:-1]] + [end_s]
        return [Part(round(a * FRAME_S, 3), round(end, 3), label)
                for (a, _, label), end in zip(runs, ends, strict=True)]

    def save(self, path: str | Path) -> None:
        from unmask._fs import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, mean=self.mean, scale=self.scale, weights=self.weights, bias=self.bias,
                     classes=np.array(self.classes), settings=np.array([self.silence_dbfs, self.smooth,
                                                                        self.min_part_s]))

    @classmethod
    def load(cls, path: str | Path) -> ContentClassifier:
        data = np.load(path, allow_pickle=False)
        silence, smooth, min_part = data["settings"].tolist()
        classes = tuple(data["classes"].tolist())
        return cls(data["mean"], data["scale"], data["weights"], data["bias"], classes, float(silence),
                   int(smooth), float(min_part))


def _median_labels(labels: list[str], width: int) -> list[str]:
    """The most common label in a centred window of ``width`` frames (a median for categories)."""
    if width <= 1 or len(labels) < width:
        return list(labels)
    half = width // 2
    out = []
    for i in range(len(labels)):
        window = labels[max(0, i - half) : i + half + 1]
        out.append(max(dict.fromkeys(window), key=window.count))  # ties: the earliest label in the window
    return out


def _runs(labels: list[str]) -> list[tuple[int, int, str]]:
    runs: list[tuple[int, int, str]] = []
    for i, label in enumerate(labels):
        if runs and runs[-1][2] == label:
            runs[-1] = (runs[-1][0], i + 1, label)
        else:
            runs.append((i, i + 1, label))
    return runs


def _merge_short(runs: list[tuple[int, int, str]], min_frames: float) -> list[tuple[int, int, str]]:
    """Fold runs shorter than ``min_frames`` into the longer neighbour, until none is left (or one run)."""
    runs = list(runs)
    while len(runs) > 1:
        lengths = [b - a for a, b, _ in runs]
        shortest = int(np.argmin(lengths))
        if lengths[shortest] >= min_frames:
            break
        a, b, _ = runs[shortest]
        left = lengths[shortest - 1] if shortest > 0 else -1
        right = lengths[shortest + 1] if shortest + 1 < len(runs) else -1
        target = shortest - 1 if left >= right else shortest + 1
        ta, tb, label = runs[target]
        runs[target] = (min(a, ta), max(b, tb), label)
        del runs[shortest]
        merged = []
        for run in runs:  # neighbours that now carry the same label become one run
            if merged and merged[-1][2] == run[2]:
                merged[-1] = (merged[-1][0], run[1], run[2])
            else:
                merged.append(run)
        runs = merged
    return runs
