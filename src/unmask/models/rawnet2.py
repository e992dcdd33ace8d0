"""RawNet2: an end-to-end raw-waveform spoofing detector (Tak et al., ICASSP 2021).

Tak, Patino, Todisco, Nautsch, Evans & Larcher, "End-to-end anti-spoofing with RawNet2"; the ASVspoof
2021 LA/DF baseline. The network, in order:

1. a fixed (not learned) sinc band-pass filterbank on mel-spaced bands (shared with AASIST,
   :class:`unmask.models.aasist.SincFilterbank`), then ``|.|``, max pooling by 3, batch norm and SELU;
2. residual blocks (BN + leaky ReLU pre-activation except in the first block, two 3-tap convolutions,
   a 1x1-conv shortcut where the width changes, max pooling by 3), each followed by filter-wise feature
   map scaling (FMS): ``x * s + s`` with ``s = sigmoid(linear(mean over time of x))`` per channel;
3. batch norm and SELU, a multi-layer GRU over the remaining frames, whose last output goes through
   one fully connected layer: that is the embedding (:meth:`RawNet2.embed`);
4. the head (a linear unit, or an OC-softmax centre; see :mod:`unmask.models.heads`) gives one logit.

The default config is the paper's (20 sinc filters of 1024 taps, blocks 2x20 + 4x128 channels, 3-layer
GRU of 1024 units, 1024-wide embedding, ~25 M parameters) with a 4 s window instead of 64,600 samples;
a small config (e.g. ``sinc_filters=8, channels=[8, 16], blocks=[1, 2], gru_hidden=32, gru_layers=1,
embedding_dim=32``) trains on a CPU. Two departures, both configurable: the paper's 2-way softmax output
is one logit (positive = fake), and loudness is normalised inside the model (``normalise_loudness``), as
for LCNN, because recording level differs between sources more than between real and fake.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.models.aasist import SincFilterbank
from unmask.models.base import Capabilities, DetectorModel, normalise_loudness
from unmask.models.heads import build_head
from unmask.models.registry import register

LEAKY_SLOPE = 0.3  # the leaky ReLU slope of the RawNet family's residual blocks


class FilterwiseScaling(nn.Module):
    """Feature map scaling (FMS): per-channel sigmoid gate from the time-averaged map, ``x * s + s``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T]
        scale = torch.sigmoid(self.fc(x.mean(dim=-1))).unsqueeze(-1)
        return x * scale + scale


class RawResidualBlock(nn.Module):
    """Pre-activation 1-D residual block with max pooling by 3, then FMS."""

    def __init__(self, c_in: int, c_out: int, first: bool = False) -> None:
        super().__init__()
        # The first block follows the front-end's own BN + SELU, so it gets no pre-activation.
        self.pre = nn.Identity() if first else nn.Sequential(nn.BatchNorm1d(c_in), nn.LeakyReLU(LEAKY_SLOPE))
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size=3, padding=1)
        self.shortcut = nn.Conv1d(c_in, c_out, kernel_size=1) if c_in != c_out else nn.Identity()
        self.pool = nn.MaxPool1d(3)
        self.fms = FilterwiseScaling(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.pre(x))
        out = self.conv2(F.leaky_relu(self.bn2(out), LEAKY_SLOPE))
        return self.fms(self.pool(out + self.shortcut(x)))


@register
class RawNet2(DetectorModel):
    """Fixed sinc front-end + residual blocks with FMS + GRU on the raw waveform (ASVspoof 2021 baseline)."""

    name: ClassVar[str] = "rawnet2"
    capabilities: ClassVar[Capabilities] = Capabilities(embedding=True)
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 4.0,
        "sinc_filters": 20,
        "sinc_kernel": 1024,  # taps; made odd (1025) so the filters are symmetric
        "channels": [20, 128],  # width of each group of residual blocks
        "blocks": [2, 4],  # residual blocks per group
        "gru_hidden": 1024,
        "gru_layers": 3,
        "embedding_dim": 1024,
        "dropout": 0.0,  # before the linear head
        "normalise_loudness": True,
        "head": "linear",  # "linear" or "ocsoftmax" (see unmask.models.heads)
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if len(cfg["channels"]) != len(cfg["blocks"]) or not cfg["channels"]:
            raise ValueError(
                f"rawnet2: 'channels' {cfg['channels']} and 'blocks' {cfg['blocks']} need one entry per group"
            )
        self.sinc = SincFilterbank(cfg["sinc_filters"], cfg["sinc_kernel"], cfg["sample_rate"])
        self.first_bn = nn.BatchNorm1d(cfg["sinc_filters"])
        blocks: list[nn.Module] = []
        width = cfg["sinc_filters"]
        for group, (channels, count) in enumerate(zip(cfg["channels"], cfg["blocks"], strict=True)):
            for i in range(count):
                blocks.append(RawResidualBlock(width, channels, first=group == 0 and i == 0))
                width = channels
        self.blocks = nn.Sequential(*blocks)
        self.bn_before_gru = nn.BatchNorm1d(width)
        self.gru = nn.GRU(width, cfg["gru_hidden"], num_layers=cfg["gru_layers"], batch_first=True)
        self.fc = nn.Linear(cfg["gru_hidden"], cfg["embedding_dim"])
        self.embedding_dim = int(cfg["embedding_dim"])
        self.head = build_head(cfg["head"], self.embedding_dim, cfg["dropout"])

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """The GRU's last output through one linear layer: ``[B, T] -> [B, embedding_dim]``."""
        if self.config["normalise_loudness"]:
            wave = normalise_loudness(wave)
        x = self.sinc(wave.unsqueeze(1))  # [B, filters, T - kernel + 1]
        x = F.selu(self.first_bn(F.max_pool1d(x.abs(), 3)))
        x = F.selu(self.bn_before_gru(self.blocks(x)))  # [B, C, frames]
        out, _ = self.gru(x.transpose(1, 2))
        return self.fc(out[:, -1])

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(wave))
