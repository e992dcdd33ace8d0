"""Training data: decoded clips in memory, random crops, group-balanced batches.

Why group-balanced: in real corpora one source often supplies most of the real clips and others most
of the fakes, so "which source is this" predicts the label. Drawing each batch half real / half fake,
and within each class uniformly over sources first, stops any one source's channel from dominating
what the model learns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unmask.data.manifest import Manifest
from unmask.errors import UnmaskError
from unmask.io import load_audio

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def trim_silence(
    wave: np.ndarray, sample_rate: int, floor_db: float = -45.0, frame_s: float = 0.02
) -> np.ndarray:
    """Drop leading and trailing frames quieter than ``floor_db`` below the clip's loudest frame.

    Sources differ in how much silence surrounds a clip; left in, that is a shortcut to the label.
    """
    frame = max(1, int(frame_s * sample_rate))
    n = len(wave) // frame
    if n < 2:
        return wave
    energy = np.square(wave[: n * frame].reshape(n, frame), dtype=np.float64).mean(axis=1)
    level = 10 * np.log10(energy + 1e-12)
    loud = np.flatnonzero(level > level.max() + floor_db)
    if loud.size == 0:
        return wave
    return wave[loud[0] * frame : (loud[-1] + 1) * frame]


@dataclass
class ClipBank:
    """Decoded clips with their 0/1 targets (1 = fake) and group names (e.g. source)."""

    waves: list[np.ndarray]
    targets: np.ndarray
    groups: np.ndarray
    paths: list[str]

    @classmethod
    def from_manifest(
        cls,
        manifest: Manifest,
        sample_rate: int,
        group_column: str = "source",
        trim: bool = True,
        on_error: Callable[[str], None] | None = None,
    ) -> ClipBank:
        """Decode every clip; unreadable ones are reported through ``on_error`` and left out."""
        waves, targets, groups, paths = [], [], [], []
        group_values = manifest.column(group_column) if group_column in manifest.columns else None
        for i, (path, target) in enumerate(zip(manifest.abs_paths(), manifest.targets(), strict=True)):
            try:
                wave = load_audio(path, sample_rate=sample_rate)
            except UnmaskError as exc:
                if on_error is None:
                    raise
                on_error(str(exc))
                continue
            waves.append(trim_silence(wave, sample_rate) if trim else wave)
            targets.append(target)
            groups.append(group_values[i] if group_values else "all")
            paths.append(str(path))
        if not waves:
            raise UnmaskError("no readable clips in the manifest", path=manifest.origin)
        return cls(waves, np.asarray(targets, dtype=np.int64), np.asarray(groups), paths)

    def __len__(self) -> int:
        return len(self.waves)

    def subset(self, mask: np.ndarray) -> ClipBank:
        idx = np.flatnonzero(mask)
        return ClipBank(
            [self.waves[i] for i in idx], self.targets[idx], self.groups[idx], [self.paths[i] for i in idx]
        )

    def extend(self, other: ClipBank) -> ClipBank:
        return ClipBank(
            self.waves + other.waves,
            np.concatenate([self.targets, other.targets]),
            np.concatenate([self.groups, other.groups]),
            self.paths + other.paths,
        )


def random_crop(wave: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``length``-sample crop; shorter clips are tiled (as at scan time), never zero-padded."""
    if len(wave) < length:
        wave = np.tile(wave, int(np.ceil(length / max(len(wave), 1))))
    start = int(rng.integers(0, len(wave) - length + 1))
    return wave[start : start + length]


class BalancedBatches:
    """Infinite batches: half real, half fake; within a class, sources are drawn uniformly first."""

    def __init__(
        self, bank: ClipBank, batch_size: int, crop_samples: int, seed: int, augment: Augment | None = None
    ) -> None:
        if set(np.unique(bank.targets)) != {0, 1}:
            raise UnmaskError("training data needs both real and fake clips")
        self.bank, self.batch_size, self.crop_samples = bank, batch_size, crop_samples
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.by_class_group = {
            t: {
                g: np.flatnonzero((bank.targets == t) & (bank.groups == g))
                for g in np.unique(bank.groups[bank.targets == t])
            }
            for t in (0, 1)
        }

    def _pick(self, target: int) -> int:
        groups = self.by_class_group[target]
        names = sorted(groups)
        members = groups[names[int(self.rng.integers(len(names)))]]
        return int(members[int(self.rng.integers(len(members)))])

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        targets = np.array([i % 2 for i in range(self.batch_size)], dtype=np.int64)
        waves = []
        for target in targets:
            crop = random_crop(self.bank.waves[self._pick(int(target))], self.crop_samples, self.rng)
            if self.augment is not None:
                crop = self.augment(crop, self.rng)
            waves.append(np.asarray(crop, dtype=np.float32))
        return np.stack(waves), targets
