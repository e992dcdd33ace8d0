"""Train a detector's back-end on cached front-end features (:mod:`unmask.train.feature_cache`).

With a frozen pretrained encoder, the encoder outputs of every clip and channel view are computed once;
each training step then only runs the small back-end, so a leave-one-source-out study over 40 sources
takes minutes on 2 CPU cores instead of days.

Batches follow :class:`unmask.train.data.BalancedBatches`: half real, half fake; within a class a group
(source) is drawn uniformly first, then a clip, then one of its views (clean or channel-augmented: the
same augmentations for both classes), then a window of consecutive cached blocks.

File scores for held-out clips are the scan pipeline's: window logits over the clean view, pooled with
:func:`unmask.detect.aggregate.aggregate_logits`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from unmask.detect.aggregate import aggregate_logits
from unmask.errors import UnmaskError
from unmask.models.base import DetectorModel
from unmask.train.feature_cache import CachedClip, iter_windows_of
from unmask.train.losses import OCSoftmaxLoss


@dataclass
class BackendTrainConfig:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    seed: int = 0
    loss: str = "bce"  # or "ocsoftmax" (the model must have head: ocsoftmax)
    clean_view_weight: float = 1.0  # relative chance of the clean view against each augmented one
    log_every: int = 500


class CachedBatches:
    """Infinite balanced batches of cached windows (see :meth:`next_batch`)."""

    def __init__(self, clips: Sequence[CachedClip], blocks_per_window: int, batch_size: int, seed: int,
                 clean_view_weight: float = 1.0) -> None:
        targets = {c.target for c in clips}
        if targets != {0, 1}:
            raise UnmaskError("training data needs both real and fake clips")
        self.clips, self.k, self.batch_size = list(clips), blocks_per_window, batch_size
        self.rng = np.random.default_rng(seed)
        self.clean_view_weight = clean_view_weight
        self.by_class_group: dict[int, dict[str, list[int]]] = {0: {}, 1: {}}
        for i, clip in enumerate(self.clips):
            self.by_class_group[clip.target].setdefault(clip.group, []).append(i)

    def _pick(self, target: int) -> CachedClip:
        groups = self.by_class_group[target]
        names = sorted(groups)
        members = groups[names[int(self.rng.integers(len(names)))]]
        return self.clips[members[int(self.rng.integers(len(members)))]]

    def _view(self, clip: CachedClip) -> int:
        weights = np.array([self.clean_view_weight] + [1.0] * (len(clip.views) - 1))
        return int(self.rng.choice(len(weights), p=weights / weights.sum()))

    def _window(self, clip: CachedClip) -> np.ndarray:
        """A random window's cached blocks ``[k, layers, frames, d]``, float16 as stored (only those blocks
        are read, through a memory map)."""
        blocks = clip.load(self._view(clip))
        start = int(self.rng.integers(0, blocks.shape[0] - self.k + 1))
        return np.asarray(blocks[start : start + self.k])

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``([B, k, layers, frames, d] float16, targets [B])``: the model's ``prepare_features`` input."""
        targets = np.array([i % 2 for i in range(self.batch_size)], dtype=np.int64)
        windows = np.stack([self._window(self._pick(int(t))) for t in targets])
        return torch.from_numpy(windows), torch.from_numpy(targets)

    def prepared_batch(self, prepare: Callable[[torch.Tensor], torch.Tensor]
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        feats, targets = self.next_batch()
        with torch.no_grad():
            return prepare(feats), targets

    def prefetched(self, count: int, prepare: Callable[[torch.Tensor], torch.Tensor] = lambda x: x,
                   depth: int = 3) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``count`` batches, read, converted and passed through ``prepare`` (the model's untrained
        feature preparation) in a background thread while the model trains on the last one."""
        batches: queue.Queue = queue.Queue(maxsize=depth)

        def fill() -> None:
            try:
                for _ in range(count):
                    batches.put(self.prepared_batch(prepare))
            except Exception as exc:  # handed to the training loop, which raises it
                batches.put(exc)

        worker = threading.Thread(target=fill, daemon=True)
        worker.start()
        for _ in range(count):
            item = batches.get()
            if isinstance(item, Exception):
                raise item
            yield item
        worker.join()


def _loss_fn(model: DetectorModel, config: BackendTrainConfig) -> Callable:
    """The loss of a batch prepared by ``model.prepare_features`` (see :func:`train_backend`)."""
    if config.loss == "bce":
        bce = nn.BCEWithLogitsLoss()
        return lambda prepared, y: bce(model.score_prepared(prepared), y.float())
    if config.loss == "ocsoftmax":
        if model.config.get("head") != "ocsoftmax":
            raise UnmaskError("loss 'ocsoftmax' needs a model built with head: ocsoftmax")
        head = model.head
        loss = OCSoftmaxLoss(head.m_real, head.m_fake, float(head.alpha))
        return lambda prepared, y: loss(head.score(model.embed_prepared(prepared)), y)
    raise UnmaskError(f"unknown back-end loss {config.loss!r}; choose 'bce' or 'ocsoftmax'")


def train_backend(model: DetectorModel, clips: Sequence[CachedClip], config: BackendTrainConfig,
                  log: Callable[[str], None] = print) -> list[float]:
    """Train every parameter outside ``model.encoder`` for ``config.steps`` steps; returns the losses."""
    torch.manual_seed(config.seed)
    params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=config.steps,
                                                   pct_start=0.1)
    batches = CachedBatches(clips, model.blocks_per_window, config.batch_size, config.seed,
                            config.clean_view_weight)
    loss_fn = _loss_fn(model, config)
    model.train()
    losses = []
    prepared = batches.prefetched(config.steps, model.prepare_features)
    for step, (feats, targets) in enumerate(prepared, start=1):
        loss = loss_fn(feats, targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if config.log_every and step % config.log_every == 0:
            log(f"  step {step}/{config.steps}: loss {np.mean(losses[-config.log_every:]):.4f}")
    model.eval()
    return losses


@torch.inference_mode()
def cached_file_logits(model: DetectorModel, clips: Sequence[CachedClip], view: int = 0,
                       aggregation: str = "softmax", temperature: float = 1.0) -> np.ndarray:
    """One file logit per clip: the back-end on every window of the cached ``view``, then pooled."""
    model.eval()
    logits = []
    for clip in clips:
        windows = np.stack(list(iter_windows_of(np.asarray(clip.load(view)), model.blocks_per_window)))
        window_logits = model.score_features(torch.from_numpy(windows.astype(np.float32))).double().numpy()
        logits.append(aggregate_logits(window_logits, aggregation, temperature))
    return np.asarray(logits)
