"""Encoder outputs cached on disk, so studies over a frozen pretrained front-end encode each clip once.

A model that can be trained this way has ``encode_blocks(blocks[N, block_samples])`` (the frozen,
expensive part), ``frontend_fingerprint()`` (what those features depend on) and ``score_features``
(the trained back-end); see :class:`unmask.models.whisper_mlp.WhisperMLP`.

Each clip is decoded, trimmed of leading/trailing silence (as :class:`unmask.train.data.ClipBank` does),
then turned into ``views``: view 0 is the clean clip, views 1.. are channel-augmented copies (the same
augmentation for real and fake clips, drawn from a generator seeded by the clip's content hash, the
view and the seed, so a rebuilt cache is identical). Each view is cut into blocks: consecutive
``block_samples`` blocks from the start, plus one ending at the clip's end when samples are left over;
a clip shorter than a window is first tiled to a window, as the scan pipeline tiles short clips.

Files: ``<cache_dir>/<fingerprint>/<sha256[:2]>/<sha256>.<view tag>.npy``, float16 ``[blocks, layers,
frames, d]``. The key is the file's *content* hash, so a renamed or duplicated file is not re-encoded,
and a changed file is. Writes are atomic, so an interrupted build resumes where it stopped.

Reuse. A model may say that another front-end's cache holds its features too (``reusable_caches()``:
``(fingerprint, layer indices)`` pairs; a Whisper-MLP reading layers 0-2 finds them in the cache of all
layers). A view missing from the model's own cache is then read from such a cache, taking those layers,
before it is encoded anew: a layer study costs no re-encoding.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unmask._fs import atomic_path, file_sha256
from unmask.data.manifest import Manifest
from unmask.errors import UnmaskError
from unmask.io import load_audio
from unmask.train.data import Augment, trim_silence


@dataclass(frozen=True)
class CachedClip:
    """One manifest row with the cache files of its views."""

    path: str
    target: int
    group: str
    system: str
    views: tuple[Path, ...]
    # Per view: the layers to take from its file (a reused cache that holds more layers), None = all.
    layer_index: tuple[tuple[int, ...] | None, ...] | None = None

    def load(self, view: int = 0) -> np.ndarray:
        stored = np.load(self.views[view], mmap_mode="r")
        index = self.layer_index[view] if self.layer_index else None
        return stored if index is None else take_layers(stored, index)


def take_layers(stored: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """``stored[:, index]``, as a view when the layers are consecutive (a memory map stays lazy)."""
    first = index[0]
    if list(index) == list(range(first, first + len(index))):
        return stored[:, first : first + len(index)]
    return stored[:, list(index)]


def clip_blocks(wave: np.ndarray, block: int, window: int) -> np.ndarray:
    """``[n_blocks, block]``: the clip tiled to at least a window, cut as the module docstring says."""
    if len(wave) < window:
        wave = np.tile(wave, int(np.ceil(window / max(len(wave), 1))))[:window]
    starts = list(range(0, len(wave) - block + 1, block))
    if starts[-1] + block < len(wave):
        starts.append(len(wave) - block)
    return np.stack([wave[s : s + block] for s in starts])


def view_tag(view: int, augment_id: str, seed: int) -> str:
    return "clean" if view == 0 else f"aug{view}-{augment_id}-s{seed}"


def augment_id(config: Any) -> str:
    """A short stable id of an augmentation config: a changed chain does not reuse old views."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]


class FeatureCache:
    """Builds and finds cached block features of one model's front-end."""

    def __init__(self, cache_dir: str | Path, model: Any) -> None:
        for needed in ("encode_blocks", "frontend_fingerprint", "block_samples"):
            if not hasattr(model, needed):
                raise UnmaskError(
                    f"detector {model.name!r} has no cacheable front-end (no {needed})",
                    hint="feature caching needs a model with a frozen encoder, e.g. whisper-mlp",
                )
        self.model = model
        self.root = Path(cache_dir) / model.frontend_fingerprint()
        reusable = getattr(model, "reusable_caches", lambda: [])()
        self.reused = [(Path(cache_dir) / name, tuple(int(i) for i in index)) for name, index in reusable
                       if (Path(cache_dir) / name).is_dir()]

    def file_for(self, sha: str, tag: str, root: Path | None = None) -> Path:
        """A view's file in this front-end's cache, or in ``root`` (a reused one)."""
        return (self.root if root is None else root) / sha[:2] / f"{sha}.{tag}.npy"

    def find(self, sha: str, tag: str) -> tuple[Path, tuple[int, ...] | None] | None:
        """Where a view is cached: this front-end's own file, else a reusable cache's (with its layers)."""
        own = self.file_for(sha, tag)
        if own.is_file():
            return own, None
        for root, index in self.reused:
            other = self.file_for(sha, tag, root)
            if other.is_file():
                return other, index
        return None

    def build(
        self,
        manifest: Manifest,
        group_column: str = "source",
        views: int = 1,
        augment: Augment | None = None,
        augment_config: Any = None,
        seed: int = 0,
        batch_blocks: int = 32,
        on_error: Callable[[str], None] | None = None,
        log: Callable[[str], None] = print,
    ) -> list[CachedClip]:
        """Encode every row's views that are not cached yet; return every readable row's cache entry."""
        if views > 1 and augment is None:
            raise UnmaskError("views > 1 need an augmentation for the extra views")
        aug_id = augment_id(augment_config)
        rows = _rows(manifest, group_column)
        todo: queue.Queue = queue.Queue(maxsize=64)
        clips: list[CachedClip | None] = [None] * len(rows)
        stop = threading.Event()
        producer = threading.Thread(
            target=self._prepare, args=(rows, views, augment, aug_id, seed, todo, clips, on_error, stop),
            daemon=True,
        )
        producer.start()
        try:
            self._encode_all(todo, batch_blocks, log, total=len(rows))
        finally:
            stop.set()
            producer.join()
        return [c for c in clips if c is not None]

    # ------------------------------------------------------------------ producer: decode + augment
    def _prepare(self, rows, views, augment, aug_id, seed, todo, clips, on_error, stop) -> None:
        try:
            for i, (path, target, group, system) in enumerate(rows):
                if stop.is_set():
                    return
                entry = self._prepare_one(path, target, group, system, views, augment, aug_id, seed, todo, i)
                if isinstance(entry, str):
                    if on_error is None:
                        todo.put(UnmaskError(entry))
                        return
                    on_error(entry)
                else:
                    clips[i] = entry
        finally:
            todo.put(None)

    def _prepare_one(self, path, target, group, system, views, augment, aug_id, seed, todo, index):
        try:
            sha = file_sha256(path)
        except OSError as exc:
            return f"{path}: unreadable ({exc.strerror or exc})"
        tags = [view_tag(v, aug_id, seed) for v in range(views)]
        found = [self.find(sha, tag) for tag in tags]
        files = tuple(f[0] if f else self.file_for(sha, tag) for f, tag in zip(found, tags, strict=True))
        layers = tuple(f[1] if f else None for f in found)
        missing = [v for v, f in enumerate(found) if f is None]
        if missing:
            sr = self.model.sample_rate
            try:
                wave = trim_silence(load_audio(path, sample_rate=sr), sr)
            except UnmaskError as exc:
                return str(exc)
            for v in missing:
                view = wave
                if v > 0:
                    rng = np.random.default_rng([int(sha[:12], 16), v, seed])
                    view = np.asarray(augment(wave.copy(), rng), dtype=np.float32)
                blocks = clip_blocks(view, self.model.block_samples, self.model.window_samples)
                todo.put((index, files[v], blocks))
        return CachedClip(str(path), int(target), str(group), str(system), files, layers)

    # ------------------------------------------------------------------ consumer: encode + write
    @torch.inference_mode()
    def _encode_all(self, todo: queue.Queue, batch_blocks: int, log: Callable[[str], None],
                    total: int) -> None:
        for done, item in enumerate(iter(todo.get, None), start=1):
            if isinstance(item, Exception):
                raise item
            index, target_file, blocks = item
            parts = [
                self.model.encode_blocks(torch.from_numpy(blocks[i : i + batch_blocks]))
                for i in range(0, len(blocks), batch_blocks)
            ]
            features = torch.cat(parts).to(torch.float16).numpy()
            target_file.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target_file) as tmp, open(tmp, "wb") as handle:
                np.save(handle, features)
            if done % 200 == 0:
                log(f"feature cache: {done} views encoded (row {index + 1} of {total})")


def _rows(manifest: Manifest, group_column: str) -> list[tuple[Path, int, str, str]]:
    groups = manifest.column(group_column) if group_column in manifest.columns else ["all"] * len(manifest)
    systems = manifest.column("system") if "system" in manifest.columns else [""] * len(manifest)
    return list(zip(manifest.abs_paths(), manifest.targets(), groups, systems, strict=True))


def iter_windows_of(clip_features: np.ndarray, blocks_per_window: int) -> Iterator[np.ndarray]:
    """Each window (consecutive blocks, frames joined) of one cached view ``[blocks, L, F, D]``."""
    n, layers, frames, d = clip_features.shape
    for i in range(n - blocks_per_window + 1):
        window = clip_features[i : i + blocks_per_window]
        joined = window.transpose(1, 0, 2, 3).reshape(layers, blocks_per_window * frames, d)
        yield np.ascontiguousarray(joined)
