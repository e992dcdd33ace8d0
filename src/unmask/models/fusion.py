"""Two-views detector: a spectral view and an SSL view of the same window, fused by cross-attention.

After El Kheir et al., "Two Views, One Truth: Spectral and Self-Supervised Features Fusion for Robust
Speech Deepfake Detection" (arXiv 2507.20417, 2025), where fusing hand-crafted spectral descriptors
(MFCC/LFCC/CQCC) with SSL representations by cross-attention generalised best to unseen attacks. Here:

- spectral view: a log-mel (or LFCC, any :mod:`unmask.features` front-end) map, per-item CMVN, the LCNN
  max-feature-map blocks of :mod:`unmask.models.lcnn`, each frame's (channel x band) map projected to
  ``d_model``;
- SSL view: :class:`unmask.models.ssl.SSLFrontend` (learned layer-weighted sum), projected to ``d_model``;
  or, with ``ssl_kind: whisper``, the Whisper encoder of an installed wheel
  (:class:`unmask.models.whisper_mlp.WhisperFrontend`), which needs no model directory;
- fusion ("mutual" cross-attention): each view's frames attend to the other view's frames, with a
  residual and layer norm; both views carry a sinusoidal encoding of each frame's centre time in
  seconds, so frames at the same moment can find each other although the views' frame rates differ;
- each fused sequence is reduced by attentive statistics pooling; the pooled vectors are concatenated
  and a linear layer gives the logit.

``branches: ["spectral"]`` or ``["ssl"]`` uses one view alone (no cross-attention: its own frames are
pooled); with only the spectral view no SSL directory is needed, and ``transformers`` is not imported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from unmask.features import build_feature
from unmask.models.base import Capabilities, DetectorModel, normalise_loudness
from unmask.models.lcnn import MaxPool2x2, mfm_block, mfm_conv
from unmask.models.registry import register
from unmask.models.ssl import (
    SSL_FRONTEND_DEFAULTS,
    SSL_SAMPLE_RATE,
    AttentiveStatsPooling,
    build_ssl_frontend,
)

BRANCHES = ("spectral", "ssl")


def time_encoding(n_frames: int, duration_s: float, dim: int) -> torch.Tensor:
    """Sinusoidal encoding ``[n_frames, dim]`` of each frame's centre time in seconds.

    Periods range geometrically from 20 ms to 20 s, so the same instant gets (nearly) the same code in
    views with different frame rates; ``dim`` is rounded down to an even number of sin/cos pairs.
    """
    times = (torch.arange(n_frames, dtype=torch.float32) + 0.5) * (duration_s / max(n_frames, 1))
    periods = torch.logspace(math.log10(0.02), math.log10(20.0), dim // 2)
    angles = 2 * math.pi * times[:, None] / periods[None, :]
    code = torch.zeros(n_frames, dim)
    code[:, 0 : 2 * (dim // 2) : 2] = torch.sin(angles)
    code[:, 1 : 2 * (dim // 2) : 2] = torch.cos(angles)
    return code


class SpectralBranch(nn.Module):
    """Spectral front-end + LCNN blocks (each halving bands and frames) -> ``[B, frames', d_model]``."""

    def __init__(
        self,
        feature: str,
        feature_kwargs: dict[str, Any],
        sample_rate: int,
        channels: list[int],
        d_model: int,
        window_samples: int,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("two-views: spectral_channels is empty")
        self.frontend = build_feature(feature, sample_rate=sample_rate, **feature_kwargs)
        layers: list[nn.Module] = [mfm_conv(1, channels[0], 5), MaxPool2x2()]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=False):
            layers += [mfm_block(c_in, c_out), MaxPool2x2()]
        self.body = nn.Sequential(*layers)
        with torch.no_grad():  # the front-end has no state to disturb; the CNN body is not run here
            n_bands = self.frontend(torch.zeros(1, window_samples)).shape[1]
        for _ in channels:
            n_bands //= 2
        if n_bands < 1:
            raise ValueError(
                f"two-views: {len(channels)} poolings leave no frequency bands of the {feature} features; "
                "use fewer spectral_channels or more bands"
            )
        self.proj = nn.Linear(channels[-1] * n_bands, d_model)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        feats = self.frontend(wave)  # [B, F, frames]
        mean = feats.mean(dim=-1, keepdim=True)
        std = feats.std(dim=-1, keepdim=True, correction=0).clamp_min(1e-3)
        x = self.body(((feats - mean) / std).unsqueeze(1))  # [B, C, F', frames']
        return self.proj(x.permute(0, 3, 1, 2).flatten(2))  # each frame's (channel x band) map


class CrossAttention(nn.Module):
    """``query`` frames attend to ``context`` frames: ``norm(query + attention(query, context))``."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attention(query, context, context, need_weights=False)
        return self.norm(query + attended)


@register
class TwoViews(DetectorModel):
    """Spectral (log-mel + LCNN blocks) and SSL views fused by mutual cross-attention (El Kheir 2025)."""

    name: ClassVar[str] = "two-views"
    capabilities: ClassVar[Capabilities] = Capabilities(needs=("hf-directory",))

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        return {"ssl_kind": "whisper", "whisper_pretrained": False, "d_model": 32, "window_s": 2.0}
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": SSL_SAMPLE_RATE,
        "window_s": 4.0,
        "branches": ["spectral", "ssl"],
        # spectral view
        "feature": "logmel",
        "feature_kwargs": {},
        "spectral_channels": [16, 24, 32],
        "normalise_loudness": True,
        # SSL view (see unmask.models.ssl): "hf" = a wav2vec 2.0 / HuBERT / WavLM directory, "whisper" = the
        # Whisper encoder of an installed wheel (unmask.models.whisper_mlp.WhisperFrontend, no directory)
        "ssl_kind": "hf",
        "whisper_encoder": "tiny.en",
        "whisper_pretrained": True,
        **SSL_FRONTEND_DEFAULTS,
        # fusion
        "d_model": 64,
        "heads": 4,
        "dropout": 0.2,
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        branches = list(cfg["branches"])
        if not branches or len(set(branches)) != len(branches) or set(branches) - set(BRANCHES):
            raise ValueError(
                f"two-views: branches must be a non-empty subset of {list(BRANCHES)}, got {branches}"
            )
        d_model = int(cfg["d_model"])
        self.branches = [b for b in BRANCHES if b in branches]  # fixed order: spectral, then ssl
        if "spectral" in self.branches:
            self.spectral = SpectralBranch(
                cfg["feature"],
                cfg["feature_kwargs"],
                self.sample_rate,
                list(cfg["spectral_channels"]),
                d_model,
                self.window_samples,
            )
        if "ssl" in self.branches:
            if self.sample_rate != SSL_SAMPLE_RATE:
                raise ValueError(
                    f"two-views: the SSL view takes {SSL_SAMPLE_RATE} Hz audio; "
                    f"sample_rate is {self.sample_rate}"
                )
            self.ssl = self._encoder_view(cfg)
            self.ssl_proj = nn.Linear(self.ssl.hidden_size, d_model)
        if len(self.branches) == 2:
            self.spectral_attends_ssl = CrossAttention(d_model, cfg["heads"], cfg["dropout"])
            self.ssl_attends_spectral = CrossAttention(d_model, cfg["heads"], cfg["dropout"])
        self.pools = nn.ModuleDict({b: AttentiveStatsPooling(d_model) for b in self.branches})
        self.head = nn.Sequential(nn.Dropout(cfg["dropout"]), nn.Linear(2 * d_model * len(self.branches), 1))

    @staticmethod
    def _encoder_view(cfg: dict[str, Any]) -> nn.Module:
        if cfg["ssl_kind"] == "whisper":
            from unmask.models.whisper_mlp import WhisperFrontend

            return WhisperFrontend(cfg["whisper_encoder"], bool(cfg["whisper_pretrained"]),
                                   freeze=bool(cfg["freeze_ssl"]), layers=cfg["layers"])
        if cfg["ssl_kind"] != "hf":
            raise ValueError(f"two-views: ssl_kind must be 'hf' or 'whisper', got {cfg['ssl_kind']!r}")
        return build_ssl_frontend(cfg)

    def views(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each view's frame sequence ``[B, frames, d_model]`` before fusion."""
        duration_s = wave.shape[-1] / self.sample_rate
        sequences = {}
        if "spectral" in self.branches:
            level = normalise_loudness(wave) if self.config["normalise_loudness"] else wave
            sequences["spectral"] = self.spectral(level)
        if "ssl" in self.branches:
            sequences["ssl"] = self.ssl_proj(self.ssl(wave))
        return {
            name: seq + time_encoding(seq.shape[1], duration_s, seq.shape[2]).to(seq)
            for name, seq in sequences.items()
        }

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave [B, T]`` -> logit ``[B]`` (> 0 means fake)."""
        views = self.views(wave)
        if len(views) == 2:
            spectral, ssl = views["spectral"], views["ssl"]
            views = {
                "spectral": self.spectral_attends_ssl(spectral, ssl),
                "ssl": self.ssl_attends_spectral(ssl, spectral),
            }
        pooled = torch.cat([self.pools[name](views[name]) for name in self.branches], dim=1)
        return self.head(pooled).squeeze(-1)
