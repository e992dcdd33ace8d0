"""LCNN: light CNN with max-feature-map activations over a cepstral/spectral front-end.

Follows the ASVspoof 2019/2021 LFCC-LCNN baseline (Lavrentyeva et al. 2019; Wang & Yamagishi 2021):
MFM convolution blocks, batch norm and max pooling over a (coefficient x frame) map. Two changes for
generalisation and speed: statistics pooling (mean + std over time) instead of a BiLSTM, so any window
length works and CPU inference stays fast; and per-item mean/variance normalisation of the features
(cepstral mean normalisation), which removes a stationary channel/microphone colouring, something
that differs between sources far more than between real and fake.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from unmask.features import build_feature
from unmask.models.base import Capabilities, DetectorModel, normalise_loudness
from unmask.models.heads import build_head
from unmask.models.registry import register


class MaxFeatureMap(nn.Module):
    """Split channels in two halves and keep the element-wise maximum (a learned competitive unit)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.maximum(a, b)


class MaxPool2x2(nn.Module):
    """``nn.MaxPool2d(2)`` (floor mode: an odd last row/column is dropped) as two strided maxima.

    Same values and gradients as the library op, 2-4x faster on CPU, where ``max_pool2d`` also computes
    the argmax indices (``benchmarks/bench_scan.py`` measures the whole model).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        x = x[..., :rows, :cols]
        x = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
        return torch.maximum(x[..., 0::2], x[..., 1::2])


def mfm_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, 2 * c_out, kernel, padding=kernel // 2), MaxFeatureMap())


def mfm_block(c_in: int, c_out: int) -> nn.Sequential:
    """1x1 MFM bottleneck then 3x3 MFM conv, as in the LCNN baseline's repeated unit."""
    return nn.Sequential(
        mfm_conv(c_in, c_in, 1), nn.BatchNorm2d(c_in), mfm_conv(c_in, c_out, 3), nn.BatchNorm2d(c_out)
    )


@register
class LCNN(DetectorModel):
    """LFCC/spectral front-end + max-feature-map CNN with statistics pooling (ASVspoof LCNN family)."""

    name: ClassVar[str] = "lcnn"
    capabilities: ClassVar[Capabilities] = Capabilities(embedding=True)
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 4.0,
        "feature": "lfcc",
        "feature_kwargs": {},
        "channels": [16, 24, 32, 16],
        "dropout": 0.3,
        "normalise_loudness": True,
        "feature_norm": "cmvn",  # "cmvn" (per item, per coefficient) or "none"
        "head": "linear",  # "linear" or "ocsoftmax" (see unmask.models.heads)
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.frontend = build_feature(cfg["feature"], sample_rate=cfg["sample_rate"], **cfg["feature_kwargs"])
        c = list(cfg["channels"])
        layers: list[nn.Module] = [mfm_conv(1, c[0], 5), MaxPool2x2()]
        for c_in, c_out in zip(c[:-1], c[1:], strict=False):
            layers += [mfm_block(c_in, c_out), MaxPool2x2()]
        self.body = nn.Sequential(*layers)
        self.embedding_dim = 2 * c[-1]
        self.head = build_head(cfg["head"], self.embedding_dim, cfg["dropout"])

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        if self.config["normalise_loudness"]:
            wave = normalise_loudness(wave)
        feats = self.frontend(wave)  # [B, F, frames]
        if self.config["feature_norm"] == "cmvn":
            mean = feats.mean(dim=-1, keepdim=True)
            std = feats.std(dim=-1, keepdim=True, correction=0).clamp_min(1e-3)
            feats = (feats - mean) / std
        return feats

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """Statistics-pooled CNN output ``[B, embedding_dim]`` (mean and std over time)."""
        x = self.body(self.features(wave).unsqueeze(1))  # [B, C, F', frames']
        x = x.mean(dim=2)  # pool over frequency: [B, C, frames']
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, correction=0)], dim=1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(wave))
