"""Score-level fusion: several trained detectors, one logit ``bias + sum_i w_i * logit_i``.

Different front-ends fail on different sources (a spectral model on strong channel colouring, a
pretrained encoder on material its pre-training never heard), so a weighted sum of their logits can
beat each one. The weights are learned: :func:`fit_fusion_weights` fits them by logistic regression
on *held-out* member logits (out-of-fold scores of a leave-one-source-out study), where weights fitted
on training scores would trust the most over-fitted member.

Each member scores the fusion's window in its own way: a member with the same window scores it
directly; one with a shorter window scores its own windows inside it (its hop) and their logits are
averaged; one with a longer window gets the window tiled, as the scan pipeline tiles short clips. A
checkpoint holds every member (``members.<i>.…`` keys) and its config, so it loads like any detector.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from unmask.models.base import Capabilities, DetectorModel
from unmask.models.registry import build_model, register


@register
class ScoreFusion(DetectorModel):
    name: ClassVar[str] = "score-fusion"
    capabilities: ClassVar[Capabilities] = Capabilities(training="members")
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 4.0,
        "hop_s": None,  # the scan hop; None = half a window
        "members": [],  # [{"model": name, "config": {...}}, ...]
    }

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        return {"members": [{"model": "lcnn", "config": {"window_s": 2.0}}, {"model": "lcnn"}]}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        specs = self.config["members"]
        if not specs:
            raise ValueError("score-fusion needs at least one member: [{model: NAME, config: {...}}]")
        self.members = nn.ModuleList(build_model(spec["model"], spec.get("config")) for spec in specs)
        rates = {m.sample_rate for m in self.members}
        if rates != {self.sample_rate}:
            raise ValueError(
                f"score-fusion members run at {sorted(rates)} Hz; all must run at {self.sample_rate}")
        self.weights = nn.Parameter(torch.full((len(specs),), 1.0 / len(specs)))
        self.bias = nn.Parameter(torch.zeros(()))

    @classmethod
    def of(cls, members: Sequence[DetectorModel], window_s: float | None = None) -> ScoreFusion:
        """A fusion of trained models (their weights are copied in), equal weights until fitted."""
        window = window_s or max(float(m.config["window_s"]) for m in members)
        specs = [{"model": m.name, "config": copy.deepcopy(m.config)} for m in members]
        fusion = cls({"sample_rate": members[0].sample_rate, "window_s": window, "members": specs})
        for target, source in zip(fusion.members, members, strict=True):
            target.load_state_dict(source.state_dict())
        return fusion

    def member_logits(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, window] -> [B, members]``: each member's logit for the window."""
        return torch.stack([_window_logit(m, wave) for m in self.members], dim=1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.member_logits(wave) @ self.weights + self.bias

    def set_weights(self, weights: Sequence[float], bias: float) -> None:
        with torch.no_grad():
            self.weights.copy_(torch.as_tensor(np.asarray(weights, dtype=np.float32)))
            self.bias.fill_(float(bias))


def _window_logit(member: DetectorModel, wave: torch.Tensor) -> torch.Tensor:
    size = member.window_samples
    if wave.shape[-1] == size:
        return member(wave)
    if wave.shape[-1] < size:
        reps = -(-size // wave.shape[-1])
        return member(wave.repeat(1, reps)[:, :size])
    hop_s = member.config.get("hop_s") or member.config["window_s"] / 2
    hop = max(1, int(round(float(hop_s) * member.sample_rate)))
    windows = wave.unfold(-1, size, hop)  # [B, n, size]
    b, n, _ = windows.shape
    return member(windows.reshape(b * n, size)).reshape(b, n).mean(dim=1)


def fit_fusion_weights(
    member_logits: np.ndarray, targets: np.ndarray, c: float = 1.0
) -> tuple[np.ndarray, float]:
    """Logistic-regression weights ``[members]`` and bias on held-out member logits ``[N, members]``.

    ``c`` is scikit-learn's inverse L2 strength: mild shrinkage keeps a member that is nearly a copy of
    another from getting a large weight of either sign.
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(member_logits, dtype=np.float64)
    y = np.asarray(targets).astype(int)
    if x.ndim != 2 or len(x) != len(y) or set(np.unique(y)) != {0, 1}:
        raise ValueError("fusion weights need logits [N, members] and 0/1 targets with both classes")
    fitted = LogisticRegression(C=c, max_iter=1000).fit(x, y)
    return fitted.coef_[0], float(fitted.intercept_[0])
