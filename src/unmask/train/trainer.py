"""Train a detector: manifest(s) in, checkpoint + metrics out.

Validation is always on held-out *groups* (sources or systems), never random clips: random clips
from a seen source share its channel and overstate how well a model generalises.

Two ways to train, picked by the model:

- gradient models (LCNN, RawNet2, AASIST...) run the epoch loop below with the loss of
  :mod:`unmask.train.losses` (``TrainConfig.loss``);
- models that are *estimated* rather than trained by gradient (LFCC-GMM) define
  ``fit_windows(batches, seed) -> dict`` (see :data:`FIT_METHOD`): the trainer hands them
  ``fit_crops`` crops from the same balanced, augmented batches, once, then validates, writes
  ``best.pt``/``history.json`` and a resumable ``state.pt`` exactly as after a gradient epoch.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from unmask._device import module_device, resolve_device
from unmask._fs import atomic_path
from unmask.detect.pipeline import Detector
from unmask.errors import UnmaskError
from unmask.eval.metrics import compute_eer
from unmask.models.base import DetectorModel
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.registry import available_models, build_model
from unmask.train.data import Augment, BalancedBatches, ClipBank
from unmask.train.losses import build_objective, check_loss_settings, model_config_for_loss

# A model with this method is fitted once from crops instead of trained by gradient steps.
FIT_METHOD = "fit_windows"


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
    loss: str = "bce"  # "bce", "weighted-bce" or "ocsoftmax" (unmask.train.losses)
    class_weights: str | list[float] | None = None  # weighted-bce: [w_real, w_fake], "asvspoof", "balanced"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)  # ocsoftmax: m_real, m_fake, alpha
    fit_crops: int = 2048  # models fitted without gradients (lfcc-gmm): crops drawn to fit them
    # Fine-tuning: a checkpoint (.pt) of the same detector whose weights start the training, e.g. the
    # official AASIST-L imported with `unmask import-model`. Its model_config may differ in settings
    # that do not change weight shapes (window_s).
    init_from: str | None = None
    # Where gradient training runs: "auto" (a CUDA GPU if torch sees one), "cpu", "cuda[:N]". Models fitted
    # by estimation (lfcc-gmm) are fitted on the CPU whatever this says.
    device: str = "auto"


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


def _load_weights(model: DetectorModel, weights: dict[str, torch.Tensor], source: Path, hint: str) -> None:
    """``model.load_state_dict`` with an error naming the file and the mismatch instead of a bare one."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise UnmaskError(
            f"weights do not fit this {model.name} configuration ({first_line} ...)", path=source, hint=hint
        ) from exc


def initialise_from(model: DetectorModel, path: Path) -> None:
    """Copy the weights of the checkpoint at ``path`` into ``model`` (same detector, same weight shapes)."""
    source = load_checkpoint(path).model
    if source.name != model.name:
        raise UnmaskError(
            f"init_from holds a {source.name!r} model but this run trains {model.name!r}",
            path=path,
            hint="point init_from at a checkpoint of the same detector",
        )
    _load_weights(model, source.state_dict(), path, "use the model_config the checkpoint was made with")


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
        check_loss_settings(cfg.loss, cfg.loss_kwargs, cfg.class_weights)
        models = available_models()
        if cfg.model not in models:
            raise UnmaskError(f"unknown detector {cfg.model!r}", hint=f"available: {', '.join(models)}")
        model_config = model_config_for_loss(cfg.loss, models[cfg.model], cfg.model_config)
        model = build_model(cfg.model, model_config)
        estimated = callable(getattr(model, FIT_METHOD, None))
        if cfg.init_from:
            if estimated:
                raise UnmaskError(
                    f"{cfg.model!r} is fitted from scratch by estimation; init_from would be ignored",
                    hint="leave init_from unset for this model",
                )
            initialise_from(model, Path(cfg.init_from))
        device = resolve_device(cfg.device)  # fails before any work when CUDA is asked for but missing
        if not estimated:
            model.to(device)
            if device.type != "cpu":
                self.log(f"training on {device}")
        batches = BalancedBatches(train, cfg.batch_size, model.window_samples, cfg.seed, augment)
        if estimated:
            self._fit_by_estimation(model, batches, val, resume, card)
        else:
            self._fit_by_gradient(model, batches, train, val, resume, card)
        return load_checkpoint(self.best_path)

    def _fit_by_gradient(
        self,
        model: DetectorModel,
        batches: BalancedBatches,
        train: ClipBank,
        val: ClipBank | None,
        resume: bool,
        card: dict[str, Any] | None,
    ) -> None:
        cfg = self.config
        objective = build_objective(
            cfg.loss,
            model,
            loss_kwargs=cfg.loss_kwargs,
            class_weights=cfg.class_weights,
            train_targets=train.targets,
        )
        optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=cfg.epochs * cfg.steps_per_epoch
        )
        history: list[EpochLog] = []
        best_eer, best_epoch, start_epoch = float("inf"), -1, 0
        device = module_device(model)

        if resume and self.state_path.exists():
            state = torch.load(self.state_path, map_location="cpu", weights_only=False)
            _load_weights(model, state["model"], self.state_path, "delete it, or train into a new out_dir")
            optimiser.load_state_dict(state["optimiser"])
            scheduler.load_state_dict(state["scheduler"])
            batches.rng.bit_generator.state = state["batch_rng"]
            torch.set_rng_state(state["torch_rng"])
            history = [EpochLog(**h) for h in state["history"]]
            best_eer, best_epoch, start_epoch = state["best_eer"], state["best_epoch"], state["epoch"] + 1
            self.log(f"resumed from epoch {state['epoch']} (best EER {best_eer:.4f})")

        for epoch in range(start_epoch, cfg.epochs):
            started = time.perf_counter()
            model.train()
            losses = []
            for _ in range(cfg.steps_per_epoch):
                waves, targets = batches.next_batch()
                loss = objective(
                    model, torch.from_numpy(waves).to(device), torch.from_numpy(targets).float().to(device)
                )
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimiser.step()
                scheduler.step()
                losses.append(loss.item())
            best_eer, best_epoch = self._end_epoch(
                model, val, history, epoch, float(np.mean(losses)), started, best_eer, best_epoch, card
            )
            self._save_state(model, optimiser, scheduler, batches, history, best_eer, best_epoch, epoch)
            if val is not None and epoch - best_epoch >= cfg.patience:
                self.log(f"early stop: no better held-out EER for {cfg.patience} epochs")
                break
        self._write_history(history, best_eer, best_epoch)

    def _fit_by_estimation(
        self,
        model: DetectorModel,
        batches: BalancedBatches,
        val: ClipBank | None,
        resume: bool,
        card: dict[str, Any] | None,
    ) -> None:
        """One fit from ``fit_crops`` balanced crops; logged, validated and saved as a single epoch 0."""
        cfg = self.config
        if cfg.loss != "bce" or cfg.class_weights is not None or cfg.loss_kwargs:
            raise UnmaskError(
                f"{cfg.model!r} is fitted by estimation, not by a loss; loss {cfg.loss!r} would be ignored",
                hint="leave loss, class_weights and loss_kwargs unset for this model",
            )
        if resume and self.state_path.exists() and self.best_path.exists():
            state = torch.load(self.state_path, map_location="cpu", weights_only=False)
            if state.get("kind") == FIT_METHOD:
                best = state["best_eer"]
                validated = f"best EER {best:.4f}" if np.isfinite(best) else "no validation set"
                self.log(f"resumed: {cfg.model} was already fitted ({validated})")
                history = [EpochLog(**h) for h in state["history"]]
                self._write_history(history, state["best_eer"], state["best_epoch"], state.get("fit"))
                return
        started = time.perf_counter()
        n_batches = max(1, -(-cfg.fit_crops // cfg.batch_size))
        self.log(f"fitting {cfg.model} on {n_batches * cfg.batch_size} crops")

        def crops() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for _ in range(n_batches):
                yield batches.next_batch()

        model.train()
        report = getattr(model, FIT_METHOD)(crops(), seed=cfg.seed)
        history: list[EpochLog] = []
        best_eer, best_epoch = self._end_epoch(
            model, val, history, 0, float(report["train_loss"]), started, float("inf"), -1, card
        )
        state = {
            "kind": FIT_METHOD,
            "history": [asdict(h) for h in history],
            "best_eer": best_eer,
            "best_epoch": best_epoch,
            "fit": report,
        }
        with atomic_path(self.state_path) as tmp:
            torch.save(state, tmp)
        self._write_history(history, best_eer, best_epoch, report)

    def _end_epoch(
        self,
        model: DetectorModel,
        val: ClipBank | None,
        history: list[EpochLog],
        epoch: int,
        train_loss: float,
        started: float,
        best_eer: float,
        best_epoch: int,
        card: dict[str, Any] | None,
    ) -> tuple[float, int]:
        """Validate, log, append to ``history`` and save ``best.pt`` when better; the new best."""
        val_eer = None
        if val is not None:
            val_eer = compute_eer(file_logits(model, val), val.targets).eer
        entry = EpochLog(epoch, train_loss, val_eer, time.perf_counter() - started)
        history.append(entry)
        self.log(
            f"epoch {epoch}: loss {entry.train_loss:.4f}"
            + (f", held-out EER {val_eer:.4f}" if val_eer is not None else "")
            + f" ({entry.seconds:.0f} s)"
        )
        if val_eer is None or val_eer < best_eer:
            best_eer, best_epoch = (val_eer if val_eer is not None else best_eer), epoch
            save_checkpoint(self.best_path, Checkpoint(model, card=card or {}))
        return best_eer, best_epoch

    def _write_history(
        self, history: list[EpochLog], best_eer: float, best_epoch: int, fit: dict[str, Any] | None = None
    ) -> None:
        summary: dict[str, Any] = {
            "config": asdict(self.config),
            "best_epoch": best_epoch,
            "best_val_eer": None if best_eer == float("inf") else best_eer,
            "history": [asdict(h) for h in history],
        }
        if fit is not None:
            summary["fit"] = fit
        (self.out_dir / "history.json").write_text(json.dumps(summary, indent=2))

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
        with atomic_path(self.state_path) as tmp:
            torch.save(state, tmp)
