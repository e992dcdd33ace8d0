"""SpecTTTra-style music detector: a small transformer over spectro-temporal tokens of ~30 s of music, with a
codec-residual token stream.

Why this shape
- **Long context.** SONICS (Rahman et al., 2024) found that AI songs give themselves away over song-scale
  context: repetition, structure, and a timbre that does not drift. Short crops miss these cues. SpecTTTra
  makes 30-120 s affordable by not tokenising the spectrogram into square patches. Instead it cuts it
  twice:
  - *temporal* tokens: all mel bands over a short run of frames;
  - *spectral* tokens: a few mel bands over the whole window.

  That gives far fewer tokens than a ViT grid, and attention across both.
- **Codec residual (ArtifactNet's idea).** Neural audio decoders are transposed convolutions and
  quantisers, and they leave structure in the *fine* spectrum: periodic peaks and notches, and bands that
  are too smooth. The residual stream takes the linear-frequency log-spectrum minus its local envelope
  (a moving average across frequency), pools its magnitude into ``residual_bands`` bands, and cuts it
  into temporal tokens like the mel stream. Loudness, EQ and the spectral envelope of the music largely
  cancel in that difference.
- **Channel blindness.** Each window is loudness-normalised. Each mel band is mean and variance
  normalised over the window (CMVN), which removes a stationary EQ or mastering curve. The residual is
  standardised with one mean and scale per window, not per band. A decoder's trace is often the same in
  every frame, and a per-band mean over time would subtract it away.

Sizes are for a CPU. The default 30-s window at 16 kHz with a 512-sample hop gives 938 frames:
- 58 temporal tokens (16 frames each);
- 8 spectral tokens (8 mel bands each, over the time-pooled window);
- 58 residual tokens.

Those pass through a 2-layer transformer with d = 96, mean-pooled to one logit.

Training on cached features. ``features(wave)`` is the fixed front-end, with no parameters, and
``classify(features)`` is everything learned. So a study computes the features of each excerpt once and
trains only ``classify`` (``scripts/music_study.py``); the saved model is still waveform in, logit out.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unmask.features import build_feature
from unmask.models.base import Capabilities, DetectorModel, normalise_loudness
from unmask.models.registry import register


def _cmvn(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per item and band, zero mean and unit variance over time (``[B, bands, frames]``)."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / (x.var(dim=-1, keepdim=True, unbiased=False) + eps).sqrt()


class _Block(nn.Module):
    """A pre-LN transformer block with plain matrix-product attention. torch's TransformerEncoderLayer
    runs a fused inference kernel that neither ONNX export nor a reader can follow; this one exports."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads), dim=-1)
        attended = (self.drop(weights) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.drop(self.proj(attended))
        return x + self.drop(self.mlp(self.norm2(x)))


@register
class SpecTTTra(DetectorModel):
    """Music: temporal + spectral mel tokens and codec-residual tokens through a small transformer."""

    name: ClassVar[str] = "spectttra"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="music")
    min_duration_s: ClassVar[float] = 5.0  # a verdict on a song needs some of the song
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 30.0,
        "hop_s": 15.0,  # the scan's default hop for this model: windows overlap by half
        "n_fft": 1024,
        "hop_length": 512,
        "n_mels": 64,
        "t_clip": 16,  # frames per temporal token (~0.5 s)
        "f_clip": 8,  # mel bands per spectral token
        "spectral_time_pool": 4,  # frames averaged before the spectral tokens (they span the window)
        "residual_bands": 32,
        "residual_smooth": 9,  # bins of the moving average that defines the spectral envelope
        "d_model": 96,
        "n_heads": 4,
        "n_layers": 2,
        "dropout": 0.1,
    }

    @classmethod
    def example_config(cls, workdir) -> dict[str, Any]:
        return {"window_s": 6.0, "hop_s": 3.0, "d_model": 32, "n_layers": 1}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.mel = build_feature("melspectrogram", sample_rate=cfg["sample_rate"], n_fft=cfg["n_fft"],
                                 win_length=cfg["n_fft"], hop_length=cfg["hop_length"], n_mels=cfg["n_mels"],
                                 log="log", top_db=None)
        self.spec = build_feature("spectrogram", sample_rate=cfg["sample_rate"], n_fft=cfg["n_fft"],
                                  win_length=cfg["n_fft"], hop_length=cfg["hop_length"], log="log")
        bins, bands = cfg["n_fft"] // 2 + 1, cfg["residual_bands"]
        edges = torch.linspace(0, bins, bands + 1).round().long()
        average = torch.zeros(bands, bins)
        for b in range(bands):  # equal-width bands of linear frequency, each bin in exactly one
            average[b, edges[b] : edges[b + 1]] = 1.0 / float(edges[b + 1] - edges[b])
        self.register_buffer("band_average", average, persistent=False)  # a matmul: exports to ONNX
        frames = self.mel.num_frames(self.window_samples)
        self.n_time_tokens = frames // cfg["t_clip"]
        self.n_spec_tokens = cfg["n_mels"] // cfg["f_clip"]
        pooled = frames // cfg["spectral_time_pool"]
        d = cfg["d_model"]
        self.temporal = nn.Linear(cfg["n_mels"] * cfg["t_clip"], d)
        self.spectral = nn.Linear(cfg["f_clip"] * pooled, d)
        self.residual = nn.Linear(cfg["residual_bands"] * cfg["t_clip"], d)
        n_tokens = 2 * self.n_time_tokens + self.n_spec_tokens
        self.position = nn.Parameter(torch.zeros(1, n_tokens, d))
        nn.init.normal_(self.position, std=0.02)
        blocks = [_Block(d, cfg["n_heads"], cfg["dropout"]) for _ in range(cfg["n_layers"])]
        self.encoder = nn.Sequential(*blocks)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, 1)

    # ------------------------------------------------------------------ fixed front-end (no parameters)
    def features(self, wave: torch.Tensor) -> dict[str, torch.Tensor]:
        """``[B, window_samples]`` -> ``{"mel": [B, n_mels, frames], "residual": [B, bands, frames]}``,
        both normalised per band over the window."""
        wave = normalise_loudness(wave)
        mel = _cmvn(self.mel(wave))
        residual = self._residual(wave)
        # One scale per item, not per band: a decoder's trace is often the same in every frame (a fixed
        # comb of upsampling peaks), which a per-band mean over time would subtract away.
        flat = residual.flatten(1)
        scale = flat.std(dim=1, unbiased=False).clamp_min(1e-5)[:, None, None]
        return {"mel": mel, "residual": (residual - flat.mean(dim=1)[:, None, None]) / scale}

    def _residual(self, wave: torch.Tensor) -> torch.Tensor:
        log_spec = self.spec(wave)  # [B, bins, frames]
        k = int(self.config["residual_smooth"])
        envelope = F.avg_pool1d(log_spec.transpose(1, 2).reshape(-1, 1, log_spec.shape[1]), k, stride=1,
                                padding=k // 2, count_include_pad=False)
        envelope = envelope.reshape(log_spec.shape[0], log_spec.shape[2], -1).transpose(1, 2)
        fine = (log_spec - envelope).abs()  # the fine structure, level and envelope removed
        return torch.log1p(torch.matmul(self.band_average.to(fine.dtype), fine))

    # ------------------------------------------------------------------ learned part
    def classify(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """The logits ``[B]`` of precomputed :meth:`features`."""
        cfg = self.config
        mel, residual = feats["mel"], feats["residual"]
        b, n_mels, frames = mel.shape
        t, n_t = cfg["t_clip"], self.n_time_tokens
        temporal = mel[..., : n_t * t].reshape(b, n_mels, n_t, t).permute(0, 2, 1, 3).reshape(b, n_t, -1)
        res = residual[..., : n_t * t]
        res = res.reshape(b, res.shape[1], n_t, t).permute(0, 2, 1, 3).reshape(b, n_t, -1)
        pool = cfg["spectral_time_pool"]
        pooled = F.avg_pool1d(mel, pool, stride=pool)[..., : frames // pool]
        spectral = pooled.reshape(b, self.n_spec_tokens, cfg["f_clip"] * pooled.shape[-1])
        tokens = torch.cat([self.temporal(temporal), self.spectral(spectral), self.residual(res)], dim=1)
        encoded = self.encoder(tokens + self.position)
        return self.out(self.norm(encoded.mean(dim=1))).squeeze(-1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(wave))
