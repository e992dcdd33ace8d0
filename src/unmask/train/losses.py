"""Training losses: plain BCE, class-weighted BCE and one-class softmax (OC-softmax).

Each loss is wrapped as an *objective* ``objective(model, waves, targets) -> scalar loss`` so the trainer's
loop does not care whether a loss reads the model's logits or its embeddings. Targets are 0 = real,
1 = fake.

- ``"bce"``: binary cross-entropy on the logit.
- ``"weighted-bce"``: BCE with one weight per class, normalised like ``nn.CrossEntropyLoss(weight=...)``
  (``sum w_i l_i / sum w_i``), which is what the ASVspoof baselines use on their 2-way outputs (a 2-way
  softmax CE on logits ``[z_real, z_fake]`` equals BCE on ``z_fake - z_real``). Weights: ``[w_real,
  w_fake]``, ``"asvspoof"`` (0.9 real, 0.1 fake: the RawNet2/AASIST baselines' weighting for a 1:9
  bona fide:spoof training set) or ``"balanced"`` (scikit-learn's ``n / (2 n_class)`` from the training
  clips). The trainer's batches are already half real, half fake, so weights here shift the operating
  point towards the class weighted up rather than undo an imbalance.
- ``"ocsoftmax"``: Zhang, Jiang & Duan, "One-class learning towards synthetic voice spoofing detection",
  IEEE SPL 2021. Embeddings and a learned centre are unit-normalised; with ``s`` their cosine,
  ``loss = mean softplus(alpha * (m_real - s))`` over real items and ``softplus(alpha * (s - m_fake))``
  over fakes (defaults m_real 0.9, m_fake 0.2, alpha 20). Real speech is compacted around the centre,
  fakes only pushed away, which is meant to generalise to unseen attacks. The centre lives in the
  model's :class:`~unmask.models.heads.OCSoftmaxHead`, so the trained model's ``forward`` still returns
  a logit (> 0 = fake); the model must follow the embedding contract of :mod:`unmask.models.heads`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.errors import UnmaskError
from unmask.models.base import DetectorModel
from unmask.models.heads import OCSoftmaxHead, supports_embedding

LOSSES = ("bce", "weighted-bce", "ocsoftmax")
CLASS_WEIGHT_PRESETS: dict[str, tuple[float, float]] = {"asvspoof": (0.9, 0.1)}  # (real, fake)
OCSOFTMAX_DEFAULTS: dict[str, float] = {"m_real": 0.9, "m_fake": 0.2, "alpha": 20.0}


class Objective(Protocol):
    def __call__(self, model: DetectorModel, waves: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...


def resolve_class_weights(
    spec: str | Sequence[float] | None, train_targets: np.ndarray | None = None
) -> tuple[float, float]:
    """``(w_real, w_fake)`` from a preset name, ``"balanced"`` (needs ``train_targets``) or two numbers."""
    if spec is None:
        return 1.0, 1.0
    if isinstance(spec, str):
        if spec in CLASS_WEIGHT_PRESETS:
            return CLASS_WEIGHT_PRESETS[spec]
        if spec == "balanced":
            if train_targets is None:
                raise ValueError("class_weights 'balanced' needs the training targets")
            counts = np.bincount(np.asarray(train_targets, dtype=np.int64), minlength=2)
            if (counts == 0).any():
                raise UnmaskError("class_weights 'balanced' needs both real and fake training clips")
            real, fake = len(train_targets) / (2.0 * counts)
            return float(real), float(fake)
        choices = ", ".join([*CLASS_WEIGHT_PRESETS, "balanced"])
        raise UnmaskError(f"unknown class_weights {spec!r}", hint=f"use {choices} or [w_real, w_fake]")
    weights = [float(w) for w in spec]
    if len(weights) != 2 or min(weights) <= 0:
        raise UnmaskError(f"class_weights must be two positive numbers [w_real, w_fake], got {list(spec)}")
    return weights[0], weights[1]


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, weights: tuple[float, float]) -> torch.Tensor:
    """BCE on logits with per-class weights, averaged as ``sum w_i l_i / sum w_i``."""
    targets = targets.to(logits.dtype)
    per_item = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    w = torch.where(targets > 0.5, weights[1], weights[0]).to(logits.dtype)
    return (w * per_item).sum() / w.sum()


class OCSoftmaxLoss(nn.Module):
    """One-class softmax loss on cosine scores ``s`` (high = real): see the module docstring."""

    def __init__(self, m_real: float = 0.9, m_fake: float = 0.2, alpha: float = 20.0) -> None:
        super().__init__()
        self.m_real, self.m_fake, self.alpha = m_real, m_fake, alpha

    def forward(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        fake = targets > 0.5
        margin_gap = torch.where(fake, scores - self.m_fake, self.m_real - scores)
        return F.softplus(self.alpha * margin_gap).mean()


class _LogitObjective:
    def __init__(self, weights: tuple[float, float]) -> None:
        self.weights = weights

    def __call__(self, model: DetectorModel, waves: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return weighted_bce(model(waves), targets, self.weights)


class _OCSoftmaxObjective:
    def __init__(self, loss: OCSoftmaxLoss) -> None:
        self.loss = loss

    def __call__(self, model: DetectorModel, waves: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        scores = model.head.score(model.embed(waves))
        return self.loss(scores, targets)


def check_loss_settings(loss: str, loss_kwargs: dict[str, Any], class_weights: Any) -> None:
    """Reject a loss name, settings or class weights that do not go together, naming what is wrong."""
    if loss not in LOSSES:
        raise UnmaskError(f"unknown loss {loss!r}", hint=f"choose one of {', '.join(LOSSES)}")
    if class_weights is not None and loss != "weighted-bce":
        raise UnmaskError(f"class_weights only apply to loss 'weighted-bce', not {loss!r}")
    if loss == "weighted-bce" and class_weights is None:
        raise UnmaskError(
            "loss 'weighted-bce' needs class_weights", hint="e.g. 'asvspoof', 'balanced' or [1, 3]"
        )
    allowed = set(OCSOFTMAX_DEFAULTS) if loss == "ocsoftmax" else set()
    unknown = set(loss_kwargs) - allowed
    if unknown:
        raise UnmaskError(
            f"loss {loss!r} takes no settings {sorted(unknown)}",
            hint=f"allowed: {sorted(allowed)}" if allowed else "remove loss_kwargs",
        )


def model_config_for_loss(
    loss: str, model_cls: type[DetectorModel], model_config: dict[str, Any]
) -> dict[str, Any]:
    """The model config to build for ``loss``: OC-softmax selects the model's ``"ocsoftmax"`` head."""
    if loss != "ocsoftmax":
        return model_config
    if "head" not in model_cls.default_config or not callable(getattr(model_cls, "embed", None)):
        raise UnmaskError(
            f"loss 'ocsoftmax' needs a model with an embedding; {model_cls.name!r} has none",
            hint="use lcnn or rawnet2, or loss 'bce' / 'weighted-bce'",
        )
    head = model_config.get("head", "ocsoftmax")
    if head != "ocsoftmax":
        raise UnmaskError(f"loss 'ocsoftmax' trains an 'ocsoftmax' head, but model_config asks for {head!r}")
    return {**model_config, "head": "ocsoftmax"}


def build_objective(
    loss: str,
    model: DetectorModel,
    *,
    loss_kwargs: dict[str, Any] | None = None,
    class_weights: str | Sequence[float] | None = None,
    train_targets: np.ndarray | None = None,
) -> Objective:
    """The training objective for ``loss``; for OC-softmax it also sets the model head's margins."""
    loss_kwargs = dict(loss_kwargs or {})
    check_loss_settings(loss, loss_kwargs, class_weights)
    if loss in ("bce", "weighted-bce"):
        return _LogitObjective(resolve_class_weights(class_weights, train_targets))
    if not supports_embedding(model) or not isinstance(model.head, OCSoftmaxHead):
        raise UnmaskError(
            f"loss 'ocsoftmax' needs an embedding and an OC-softmax head; {model.name!r} has none",
            hint="build it with model_config head: ocsoftmax (the trainer does this for lcnn and rawnet2)",
        )
    settings = {**OCSOFTMAX_DEFAULTS, **loss_kwargs}
    model.head.set_margins(settings["m_real"], settings["m_fake"], settings["alpha"])
    return _OCSoftmaxObjective(OCSoftmaxLoss(**settings))
