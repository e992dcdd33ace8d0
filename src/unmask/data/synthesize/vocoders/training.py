"""One GAN training loop for every vocoder family, on CPU, within a time or step budget.

Each step draws ``batch_size`` random segments (0.64 s by default, skipping near-silent ones) of the real
clips and trains the generator to rebuild them from their log-mel (or, for the codec, from the waveform).

* Warm-up (the first ``warmup_fraction`` of the budget, in time when ``minutes`` is given, else in steps):
  reconstruction loss only (log-mel L1 + multi-resolution STFT), so even a short CPU budget ends with
  intelligible output;
* then GAN: the discriminators (LSGAN) start, and the generator minimises
  ``rec_weight * reconstruction + adversarial + 2 * feature matching`` (+ the codec's commitment loss).

The result is one checkpoint file (``torch.load(..., weights_only=True)`` reads it): the generator's weights,
its config and a ``training`` record (steps, seconds, data, final losses, validation log-mel L1). While
training, the full state (discriminators and optimisers too) is saved every ``save_every_s`` seconds to
``<out>.partial.pt``; calling :func:`train_vocoder` again with the same family resumes from it, and the
budget counts the time already spent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unmask._fs import atomic_path
from unmask.data.manifest import Manifest, read_manifest
from unmask.data.synthesize.vocoders.discriminators import (
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    multi_resolution_stft_loss,
)
from unmask.data.synthesize.vocoders.families import build_model, default_config
from unmask.data.synthesize.vocoders.generators import SAMPLE_RATE, VocoderModel, log_mel_module
from unmask.errors import UnmaskError

CHECKPOINT_FORMAT = "unmask-vocoder"
CHECKPOINT_VERSION = 1
# Clips are scaled to this peak for training and resynthesis: the log-mel input is level dependent.
PEAK_LEVEL = 0.95
_SILENT_SEGMENT_RMS = 3e-3
_VALIDATION_SECONDS = 1.0


@dataclass
class TrainSettings:
    """Training settings (stored in the checkpoint). Segments are a multiple of 1280 samples, so of both the
    mel hop (256) and the codec frame (320)."""

    segment_samples: int = 10240
    batch_size: int = 8
    lr_generator: float = 1e-3
    lr_discriminator: float = 2e-4
    warmup_fraction: float = 0.5
    rec_weight: float = 20.0
    fm_weight: float = 2.0
    commit_weight: float = 1.0
    discriminator_channels: int = 16
    grad_clip: float = 10.0
    save_every_s: float = 60.0


@dataclass
class TrainingReport:
    """What :func:`train_vocoder` did: the checkpoint, its size, and the training record."""

    family: str
    path: Path
    parameters: int
    size_bytes: int
    steps: int
    seconds: float
    steps_per_s: float
    resumed_from_step: int
    validation_mel_l1: float | None
    losses: dict[str, float] = field(default_factory=dict)
    model: VocoderModel | None = field(default=None, repr=False)  # the trained generator, in eval mode


ProgressCallback = Callable[[int, float, dict[str, float]], None]


# -- data ----------------------------------------------------------------------------------------------------
def load_training_audio(
    source: Manifest | str | Path | Sequence[np.ndarray],
    *,
    domain: str | None = None,
    max_clips: int | None = None,
) -> tuple[list[np.ndarray], list[str]]:
    """The real clips of a manifest (``label == real``, optionally one ``domain``) or the given waves, as
    float32 at 16 kHz scaled to a fixed peak; also the clips left out (``path: reason``): unreadable,
    silent or not mono."""
    from unmask.io import load_audio

    if isinstance(source, Manifest | str | Path):
        manifest = read_manifest(source) if isinstance(source, str | Path) else source
        manifest = manifest.filter(label="real")
        if domain:
            manifest = manifest.filter(domain=domain)
        named, failures = [], []
        for row in manifest:
            if max_clips is not None and len(named) >= max_clips:
                break
            duration = (row.end - (row.start or 0.0)) if row.end is not None else None
            try:
                wave = load_audio(row.path, SAMPLE_RATE, start_s=row.start or 0.0, duration_s=duration)
            except UnmaskError as exc:
                failures.append(f"{row.path}: {exc}")
                continue
            named.append((str(row.path), wave))
    else:
        waves = [np.asarray(w, dtype=np.float32) for w in source][:max_clips]
        named, failures = [(f"wave #{i}", w) for i, w in enumerate(waves)], []
    clips = []
    for name, wave in named:  # a clip left out is reported with the unreadable ones, never dropped silently
        if wave.ndim != 1:
            failures.append(f"{name}: not a 1-D mono wave (shape {wave.shape})")
        elif np.max(np.abs(wave), initial=0.0) <= 1e-6:
            failures.append(f"{name}: silent (peak <= 1e-6)")
        else:
            clips.append(normalise_peak(wave))
    if not clips:
        raise UnmaskError(
            "no usable real clips to train a vocoder on",
            hint="give a manifest with label=real rows (and --domain speech if filtered)",
        )
    return clips, failures


def normalise_peak(wave: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(wave), initial=0.0))
    return (wave * (PEAK_LEVEL / peak)).astype(np.float32) if peak > 0 else wave.astype(np.float32)


class SegmentSampler:
    """Random training segments, clips drawn in proportion to their length, near-silent draws retried."""

    def __init__(self, clips: list[np.ndarray], segment: int, seed: int) -> None:
        self.clips = [np.pad(c, (0, max(0, segment - c.size))) for c in clips]
        lengths = np.array([c.size for c in self.clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()
        self.segment = segment
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        out = np.empty((size, self.segment), dtype=np.float32)
        for i in range(size):
            for _ in range(5):
                clip = self.clips[self.rng.choice(len(self.clips), p=self.weights)]
                start = int(self.rng.integers(0, clip.size - self.segment + 1))
                out[i] = clip[start : start + self.segment]
                if np.sqrt(np.mean(out[i] ** 2)) > _SILENT_SEGMENT_RMS:
                    break
        return torch.from_numpy(out)


def split_validation(clips: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every 10th clip (at least one once there are 4) is held out to measure the log-mel L1.

    With fewer than 4 clips none is held out (and no validation L1 is reported): a "held-out" clip that is
    also trained on would report a training loss as a validation figure."""
    if len(clips) < 4:
        return clips, []
    held = [c for i, c in enumerate(clips) if i % 10 == 3]
    return [c for i, c in enumerate(clips) if i % 10 != 3], held


def validation_segments(clips: list[np.ndarray], count: int = 8) -> torch.Tensor:
    """Up to ``count`` fixed 1 s segments from the middle of the held-out clips."""
    length = int(_VALIDATION_SECONDS * SAMPLE_RATE)
    segments = []
    for clip in clips[:count]:
        clip = np.pad(clip, (0, max(0, length - clip.size)))
        start = (clip.size - length) // 2
        segments.append(clip[start : start + length])
    return torch.from_numpy(np.stack(segments))


@torch.no_grad()
def mel_l1(model: VocoderModel, waves: torch.Tensor, n_q: int | None = None) -> float:
    """Mean absolute log-mel difference (natural log, 80 bands) between ``model``'s rebuild and ``waves``."""
    was_training = model.training
    model.eval()
    try:
        out, _ = model.reconstruct(waves, n_q)
    finally:
        model.train(was_training)
    mel = log_mel_module()
    return float(torch.mean(torch.abs(mel(out) - mel(waves))))


# -- checkpoints ---------------------------------------------------------------------------------------------
def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as temp:
        torch.save(payload, temp)


def partial_path(out_path: str | Path) -> Path:
    """Where the resumable training state of ``out_path`` is kept while training runs."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".partial.pt")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a vocoder checkpoint (``weights_only=True``: no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise UnmaskError(
            "vocoder checkpoint not found",
            path=path,
            hint="train it with `unmask data train-vocoders --real MANIFEST --out DIR`",
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise UnmaskError(
            f"not a readable vocoder checkpoint ({type(exc).__name__}: {exc})",
            path=path,
            hint="retrain it with `unmask data train-vocoders`",
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UnmaskError("not an unmask vocoder checkpoint", path=path)
    if payload.get("version") != CHECKPOINT_VERSION:
        raise UnmaskError(
            f"vocoder checkpoint version {payload.get('version')} is not the supported {CHECKPOINT_VERSION}",
            path=path,
            hint="retrain it with this unmask version",
        )
    return payload


def load_vocoder(path: str | Path) -> tuple[VocoderModel, dict[str, Any]]:
    """The trained generator of a checkpoint (in eval mode) and the checkpoint's record."""
    payload = load_checkpoint(path)
    model = build_model(payload["config"])
    model.load_state_dict(payload["generator"])
    model.eval()
    return model, payload


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# -- the loop ------------------------------------------------------------------------------------------------
def train_vocoder(
    family: str,
    real: Manifest | str | Path | Sequence[np.ndarray],
    out_path: str | Path,
    *,
    minutes: float | None = None,
    steps: int | None = None,
    seed: int = 0,
    settings: TrainSettings | None = None,
    model_overrides: dict[str, Any] | None = None,
    domain: str | None = None,
    max_clips: int | None = None,
    threads: int | None = None,
    on_progress: ProgressCallback | None = None,
    log_every: int = 25,
) -> TrainingReport:
    """Train ``family`` on the real clips of ``real`` (a manifest or a list of 16 kHz waves) and write one
    checkpoint to ``out_path``. Stops at ``minutes`` of training or ``steps`` steps, whichever comes first
    (at least one must be given). Resumes from ``<out>.partial.pt`` when one of the same family exists."""
    if minutes is None and steps is None:
        raise ValueError("give a budget: minutes, steps or both")
    settings = settings or TrainSettings()
    if settings.segment_samples % 1280:
        raise ValueError(f"segment_samples must be a multiple of 1280, got {settings.segment_samples}")
    out_path = Path(out_path)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(
            family,
            real,
            out_path,
            minutes,
            steps,
            seed,
            settings,
            model_overrides or {},
            domain,
            max_clips,
            on_progress,
            log_every,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    family: str,
    real: Any,
    out_path: Path,
    minutes: float | None,
    steps: int | None,
    seed: int,
    settings: TrainSettings,
    model_overrides: dict[str, Any],
    domain: str | None,
    max_clips: int | None,
    on_progress: ProgressCallback | None,
    log_every: int,
) -> TrainingReport:
    config = default_config(family, **model_overrides)
    clips, failures = load_training_audio(real, domain=domain, max_clips=max_clips)
    train_clips, held_out = split_validation(clips)
    torch.manual_seed(seed)
    model = build_model(config)
    discriminators = Discriminators(tuple(config["discriminators"]), settings.discriminator_channels)
    opt_g = torch.optim.AdamW(model.parameters(), settings.lr_generator, betas=(0.8, 0.99))
    opt_d = torch.optim.AdamW(discriminators.parameters(), settings.lr_discriminator, betas=(0.8, 0.99))
    mel = log_mel_module()
    step, spent, resumed_from = 0, 0.0, 0
    partial = partial_path(out_path)
    if partial.is_file():
        state = load_checkpoint(partial)
        if state.get("family") == family and state.get("config") == config:
            model.load_state_dict(state["generator"])
            discriminators.load_state_dict(state["discriminator"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            step, spent = int(state["training"]["steps"]), float(state["training"]["seconds"])
            resumed_from = step
    sampler = SegmentSampler(train_clips, settings.segment_samples, seed + 7919 * step)
    losses: dict[str, float] = {}
    gan_start_step: int | None = None
    started, last_save = time.perf_counter(), time.perf_counter()

    def elapsed() -> float:
        return spent + time.perf_counter() - started

    def in_warmup() -> bool:
        if minutes is not None and elapsed() >= settings.warmup_fraction * minutes * 60:
            return False
        return not (steps is not None and step >= settings.warmup_fraction * steps)

    def record(complete: bool) -> dict[str, Any]:
        info = {
            "steps": step,
            "seconds": round(elapsed(), 3),
            "seed": seed,
            "settings": asdict(settings),
            "clips": len(train_clips),
            "held_out_clips": len(held_out),
            "audio_seconds": round(sum(c.size for c in train_clips) / SAMPLE_RATE, 2),
            "unreadable_clips": len(failures),
            "gan_start_step": gan_start_step,
            "losses": dict(losses),
            "torch": str(torch.__version__),
            "saved": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "family": family,
            "config": config,
            "generator": model.state_dict(),
            "training": info,
        }
        if not complete:
            payload.update(
                discriminator=discriminators.state_dict(), opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict()
            )
        return payload

    model.train()
    while not ((steps is not None and step >= steps) or (minutes is not None and elapsed() >= minutes * 60)):
        real_batch = sampler.batch(settings.batch_size)
        fake, aux = model.reconstruct(real_batch)
        reconstruction = torch.nn.functional.l1_loss(mel(fake), mel(real_batch)) + multi_resolution_stft_loss(
            fake, real_batch
        )
        losses = {"reconstruction": reconstruction.item()}
        if in_warmup():
            loss_g = reconstruction + settings.commit_weight * aux
        else:
            gan_start_step = step if gan_start_step is None else gan_start_step
            loss_d = discriminator_loss(discriminators(real_batch), discriminators(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            torch.nn.utils.clip_grad_norm_(discriminators.parameters(), settings.grad_clip)
            opt_d.step()
            real_out, fake_out = discriminators(real_batch), discriminators(fake)
            adversarial = generator_adversarial_loss(fake_out)
            matching = feature_matching_loss(real_out, fake_out)
            loss_g = (
                settings.rec_weight * reconstruction
                + adversarial
                + settings.fm_weight * matching
                + settings.commit_weight * aux
            )
            losses.update(
                discriminator=loss_d.item(), adversarial=adversarial.item(), feature_matching=matching.item()
            )
        if aux.requires_grad:
            losses["commitment"] = aux.item()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt_g.step()
        step += 1
        if not math.isfinite(loss_g.item()):
            raise UnmaskError(
                f"{family}: training diverged at step {step} (loss {loss_g.item()})",
                path=out_path,
                hint="try another --seed or a lower learning rate",
            )
        if on_progress and step % log_every == 0:
            on_progress(step, elapsed(), losses)
        if time.perf_counter() - last_save >= settings.save_every_s:
            _atomic_save(record(complete=False), partial)
            last_save = time.perf_counter()
    seconds = elapsed()
    steps_per_s = (step - resumed_from) / max(seconds - spent, 1e-9)
    validation = mel_l1(model, validation_segments(held_out)) if held_out else None
    payload = record(complete=True)
    payload["training"]["validation_mel_l1"] = validation
    model.eval()
    _atomic_save(payload, out_path)
    partial.unlink(missing_ok=True)
    return TrainingReport(
        family=family,
        path=out_path,
        parameters=count_parameters(model),
        size_bytes=out_path.stat().st_size,
        steps=step,
        seconds=seconds,
        steps_per_s=steps_per_s,
        resumed_from_step=resumed_from,
        validation_mel_l1=validation,
        losses=losses,
        model=model,
    )
