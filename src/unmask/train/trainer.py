"""Train a detector: manifest(s) in, checkpoint + metrics out.

Validation is always on held-out *groups* (sources or systems), never random clips: random clips
from a seen source share its channel and overstate how well a model generalises.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from unmask.detect.pipeline import Detector
from unmask.eval.metrics import compute_eer
from unmask.models.base import DetectorModel
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.train.data import Augment, BalancedBatches, ClipBank


@dataclass
class TrainConfig:
    """Every training setting; saved next to the checkpoint so a run can be reproduced."""

    model: str = "lcnn"
    model_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    epochs: int = 12
    steps_per_epoch: int = 60
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 4  # epochs without a better validation EER before stopping
    threads: int = 2


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    val_eer: float | None
    seconds: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def file_logits(model: DetectorModel, bank: ClipBank, batch_size: int = 32) -> np.ndarray:
    """One aggregated logit per clip, scored exactly as ``unmask scan`` scores a file
    (all-silent clips get 0, "no evidence either way")."""
    detector = Detector(model).with_settings(batch_size=batch_size)
    model.eval()
    logits = [detector.waveform_logit(wave, model.sample_rate) for wave in bank.waves]
    return np.asarray([0.0 if v is None else v for v in logits])


class Trainer:
    """Class-balanced, seeded, resumable training with early stopping on held-out EER."""

    def __init__(self, config: TrainConfig, out_dir: str | Path, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.log = log

    @property
    def state_path(self) -> Path:
        return self.out_dir / "state.pt"

    @property
    def best_path(self) -> Path:
        return self.out_dir / "best.pt"

    def fit(
        self,
        train: ClipBank,
        val: ClipBank | None = None,
        augment: Augment | None = None,
        resume: bool = True,
        card: dict[str, Any] | None = None,
    ) -> Checkpoint:
        cfg = self.config
        torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        model = build_model(cfg.model, cfg.model_config)
        optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=cfg.epochs * cfg.steps_per_epoch
        )
        batches = BalancedBatches(train, cfg.batch_size, model.window_samples, cfg.seed, augment)
        history: list[EpochLog] = []
        best_eer, best_epoch, start_epoch = float("inf"), -1, 0

        if resume and self.state_path.exists():
            state = torch.load(self.state_path, map_location="cpu", weights_only=False)
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            scheduler.load_state_dict(state["scheduler"])
            batches.rng.bit_generator.state = state["batch_rng"]
            torch.set_rng_state(state["torch_rng"])
            history = [EpochLog(**h) for h in state["history"]]
            best_eer, best_epoch, start_epoch = state["best_eer"], state["best_epoch"], state["epoch"] + 1
            self.log(f"resumed from epoch {state['epoch']} (best EER {best_eer:.4f})")

        loss_fn = nn.BCEWithLogitsLoss()
        for epoch in range(start_epoch, cfg.epochs):
            started = time.perf_counter()
            model.train()
            losses = []
            for _ in range(cfg.steps_per_epoch):
                waves, targets = batches.next_batch()
                logits = model(torch.from_numpy(waves))
                loss = loss_fn(logits, torch.from_numpy(targets).float())
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimiser.step()
                scheduler.step()
                losses.append(loss.item())
            val_eer = None
            if val is not None:
                val_eer = compute_eer(file_logits(model, val), val.targets).eer
            entry = EpochLog(epoch, float(np.mean(losses)), val_eer, time.perf_counter() - started)
            history.append(entry)
            self.log(
                f"epoch {epoch}: loss {entry.train_loss:.4f}"
                + (f", held-out EER {val_eer:.4f}" if val_eer is not None else "")
                + f" ({entry.seconds:.0f} s)"
            )
            improved = val_eer is None or val_eer < best_eer
            if improved:
                best_eer, best_epoch = (val_eer if val_eer is not None else best_eer), epoch
                save_checkpoint(self.best_path, Checkpoint(model, card=card or {}))
            self._save_state(model, optimiser, scheduler, batches, history, best_eer, best_epoch, epoch)
            if val is not None and epoch - best_epoch >= cfg.patience:
                self.log(f"early stop: no better held-out EER for {cfg.patience} epochs")
                break

        (self.out_dir / "history.json").write_text(
            json.dumps(
                {
                    "config": asdict(self.config),
                    "best_epoch": best_epoch,
                    "best_val_eer": None if best_eer == float("inf") else best_eer,
                    "history": [asdict(h) for h in history],
                },
                indent=2,
            )
        )
        return load_checkpoint(self.best_path)

    def _save_state(self, model, optimiser, scheduler, batches, history, best_eer, best_epoch, epoch) -> None:
        state = {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "scheduler": scheduler.state_dict(),
            "batch_rng": batches.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": [asdict(h) for h in history],
            "best_eer": best_eer,
            "best_epoch": best_epoch,
            "epoch": epoch,
        }
        tmp = self.state_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.state_path)
