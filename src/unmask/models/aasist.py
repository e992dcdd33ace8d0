"""AASIST and AASIST-L: raw-waveform spectro-temporal graph attention networks.

Jung et al., "AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal Graph Attention Networks",
ICASSP 2022; the authors' code is clovaai/aasist (MIT). The network, in order:

1. a fixed (not learned) sinc band-pass filterbank on mel-spaced bands, applied to the raw waveform;
2. |.|, 3x3 max pooling, batch norm and SELU give a (band x frame) map;
3. a residual CNN encoder (six blocks, each pooling time by 3);
4. spectral nodes (max over time, plus a learned positional embedding) and temporal nodes (max over
   frequency), each refined by a graph attention layer and pruned by graph pooling;
5. two parallel branches of heterogeneous stacking graph attention (HS-GAL: spectral and temporal
   nodes in one graph with type-specific attention, plus a learned "master" node), combined by an
   element-wise maximum;
6. a readout of max/mean node statistics and the master node into a 2-way linear layer.

Every attribute name matches the official implementation so that the authors' state dicts load
as they are (see :mod:`unmask.models.importers.aasist_official`); inference reproduces their
logits. Two behaviours of the official code are kept on purpose because the released weights were
trained with them: the residual blocks compute ``conv1`` on the block input (their ``bn1`` exists
in the state dict but its output is discarded, so it never learns), and the network sees the raw
waveform level (no loudness normalisation).

The official output is ``logits[B, 2]`` with index 0 = spoof, 1 = bona fide; :meth:`AASIST.forward`
returns ``logit_spoof - logit_bonafide``, the log-odds of "fake" under the network's softmax.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unmask.models.base import DetectorModel
from unmask.models.registry import register

SPOOF_INDEX = 0  # official output column of the spoof class
BONAFIDE_INDEX = 1  # official output column of the bona fide (real) class
SPECTRAL_NODES = 23  # frequency bins after the front-end; fixes the size of the positional embedding


# ----------------------------------------------------------------------------------------- front-end
def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_band_pass_filters(n_filters: int, kernel_size: int, sample_rate: int) -> torch.Tensor:
    """Hamming-windowed ideal band-pass FIR filters ``[n_filters, kernel_size]`` on mel-spaced bands.

    Band edges split the mel range of a 512-point FFT grid (0 .. Nyquist) evenly; each filter is the
    difference of two windowed-sinc low-passes. ``kernel_size`` must be odd (symmetric, zero phase).
    """
    grid_hz = (sample_rate // 2) * np.linspace(0.0, 1.0, 512 // 2 + 1)
    grid_mel = _hz_to_mel(grid_hz)
    edges_hz = _mel_to_hz(np.linspace(grid_mel.min(), grid_mel.max(), n_filters + 1))
    # The official code evaluates the sinc on a float32 time axis; doing the same keeps the filters
    # (which are not stored in its state dict) equal to the ones the released weights were trained on.
    taps = torch.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1).numpy()
    window = torch.from_numpy(np.hamming(kernel_size)).float()
    filters = torch.zeros(n_filters, kernel_size)
    for i, (low, high) in enumerate(zip(edges_hz[:-1], edges_hz[1:], strict=True)):
        ideal = _windowed_sinc_low_pass(high, taps, sample_rate) - _windowed_sinc_low_pass(
            low, taps, sample_rate
        )
        filters[i] = window * torch.as_tensor(ideal, dtype=torch.float32)
    return filters


def _windowed_sinc_low_pass(cutoff_hz: float, taps: np.ndarray, sample_rate: int) -> np.ndarray:
    """Impulse response of an ideal low-pass at ``cutoff_hz`` (gain 1), sampled at ``taps``."""
    argument = (np.float32(2 * cutoff_hz) * taps / np.float32(sample_rate)).astype(np.float32)
    return (2 * cutoff_hz / sample_rate) * np.sinc(argument)


class SincFilterbank(nn.Module):
    """Fixed mel-spaced sinc band-pass filterbank: ``[B, 1, T] -> [B, n_filters, T - kernel + 1]``."""

    def __init__(self, n_filters: int, kernel_size: int, sample_rate: int) -> None:
        super().__init__()
        kernel_size = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size  # odd: symmetric filters
        filters = mel_band_pass_filters(n_filters, kernel_size, sample_rate)
        # Not persistent: derived from the config, and absent from the official state dict.
        self.register_buffer("band_pass", filters.unsqueeze(1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.band_pass)


# ------------------------------------------------------------------------------------------- encoder
class ResidualBlock(nn.Module):
    """Two (2x3) convolutions with a (1x3)-conv shortcut when the width changes, then time pooling by 3."""

    def __init__(self, in_channels: int, out_channels: int, first: bool = False, time_pool: int = 3) -> None:
        super().__init__()
        if not first:
            # Present in the official weights, but its output is never used (see the module docstring).
            self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        if in_channels != out_channels:
            self.conv_downsample = nn.Conv2d(in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1))
        # SSL+AASIST (Tak et al. 2022) keeps every frame of the SSL feature map: time_pool=1.
        self.mp = nn.MaxPool2d((1, time_pool)) if time_pool > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.selu(self.bn2(self.conv1(x))))
        shortcut = self.conv_downsample(x) if hasattr(self, "conv_downsample") else x
        return self.mp(out + shortcut)


# ------------------------------------------------------------------------------------ graph modules
def _pairwise_products(x: torch.Tensor) -> torch.Tensor:
    """``[B, N, D] -> [B, N, N, D]``: element-wise product of every pair of nodes (the edge features)."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _node_batch_norm(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Batch norm over feature dims, with every node of every item as one sample."""
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _xavier_vector(dim: int) -> nn.Parameter:
    weight = torch.empty(dim, 1)
    nn.init.xavier_normal_(weight)
    return nn.Parameter(weight)


class GraphAttentionLayer(nn.Module):
    """Graph attention over a fully connected graph of homogeneous nodes (GAT-S / GAT-T)."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier_vector(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)
        scores = torch.tanh(self.att_proj(_pairwise_products(x))) @ self.att_weight  # [B, N, N, 1]
        attention = torch.softmax(scores.squeeze(-1) / self.temperature, dim=-1)  # rows sum to 1
        x = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        return F.selu(_node_batch_norm(self.bn, x))


class HtrgGraphAttentionLayer(nn.Module):
    """Heterogeneous graph attention (HS-GAL): two node types in one graph plus a master node.

    Edges inside type 1, inside type 2 and across types each have their own attention vector; the
    master node attends to every node with a fourth one.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier_vector(out_dim)
        self.att_weight22 = _xavier_vector(out_dim)
        self.att_weight12 = _xavier_vector(out_dim)
        self.att_weightM = _xavier_vector(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(p=0.2)
        self.temperature = float(temperature)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, master: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x1 [B, N1, D]``, ``x2 [B, N2, D]``, ``master [B or 1, 1, D]`` -> the three updated."""
        n1, n2 = x1.shape[1], x2.shape[1]
        x = torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1)
        if master is None:
            master = x.mean(dim=1, keepdim=True)
        x = self.input_drop(x)
        attention = self._node_attention(x, n1, n2)
        master = self._update_master(x, master)
        x = self.proj_with_att(attention @ x) + self.proj_without_att(x)
        x = F.selu(_node_batch_norm(self.bn, x))
        return x[:, :n1], x[:, n1:], master

    def _node_attention(self, x: torch.Tensor, n1: int, n2: int) -> torch.Tensor:
        edges = torch.tanh(self.att_proj(_pairwise_products(x)))  # [B, N, N, D']
        per_kind = edges @ torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)
        node_type = torch.cat([torch.zeros(n1, dtype=torch.long), torch.ones(n2, dtype=torch.long)])
        node_type = node_type.to(x.device)
        # 0: both type 1, 1: both type 2, 2: one of each (the cross-type vector is shared both ways).
        kind = torch.where(node_type[:, None] == node_type[None, :], node_type[:, None], 2)
        kind = kind[None, :, :, None].expand(x.shape[0], -1, -1, 1)
        scores = per_kind.gather(-1, kind).squeeze(-1)  # [B, N, N]
        return torch.softmax(scores / self.temperature, dim=-1)

    def _update_master(self, x: torch.Tensor, master: torch.Tensor) -> torch.Tensor:
        scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # [B, N, 1]
        attention = torch.softmax(scores / self.temperature, dim=1)
        return self.proj_with_attM(attention.transpose(1, 2) @ x) + self.proj_without_attM(master)


class GraphPool(nn.Module):
    """Keep the ``ratio`` highest-scoring nodes (at least one), each scaled by its sigmoid score."""

    def __init__(self, ratio: float, in_dim: int, dropout: float) -> None:
        super().__init__()
        self.ratio = float(ratio)
        self.proj = nn.Linear(in_dim, 1)
        self.drop = nn.Dropout(p=dropout) if dropout > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # [B, N, 1]
        keep = max(int(h.shape[1] * self.ratio), 1)
        # Sorted by score, as in the official code: node order matters where two branches are max-ed.
        _, index = torch.topk(scores, keep, dim=1)
        return torch.gather(h * scores, 1, index.expand(-1, -1, h.shape[-1]))


# ------------------------------------------------------------------------------------ graph back-end
class GraphBackendMixin:
    """The AASIST graph back-end, from an encoder map ``[B, C, bands, frames]`` to the readout vector.

    A mixin (not a submodule) so the parameters keep the official flat names (``pos_S``,
    ``GAT_layer_S.*``, ...) in :class:`AASIST`; :mod:`unmask.models.ssl` reuses it on an SSL feature map.
    """

    def _build_graph_backend(
        self,
        encoder_dim: int,
        spectral_nodes: int,
        gat_dims: list[int],
        pool_ratios: list[float],
        temperatures: list[float],
    ) -> None:
        self.drop_way = nn.Dropout(0.2)
        self.pos_S = nn.Parameter(torch.randn(1, spectral_nodes, encoder_dim))
        self.master1 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.master2 = nn.Parameter(torch.randn(1, 1, gat_dims[0]))
        self.GAT_layer_S = GraphAttentionLayer(encoder_dim, gat_dims[0], temperatures[0])
        self.GAT_layer_T = GraphAttentionLayer(encoder_dim, gat_dims[0], temperatures[1])
        self.HtrgGAT_layer_ST11 = HtrgGraphAttentionLayer(gat_dims[0], gat_dims[1], temperatures[2])
        self.HtrgGAT_layer_ST12 = HtrgGraphAttentionLayer(gat_dims[1], gat_dims[1], temperatures[2])
        self.HtrgGAT_layer_ST21 = HtrgGraphAttentionLayer(gat_dims[0], gat_dims[1], temperatures[2])
        self.HtrgGAT_layer_ST22 = HtrgGraphAttentionLayer(gat_dims[1], gat_dims[1], temperatures[2])
        self.pool_S = GraphPool(pool_ratios[0], gat_dims[0], 0.3)
        self.pool_T = GraphPool(pool_ratios[1], gat_dims[0], 0.3)
        self.pool_hS1 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.pool_hT1 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.pool_hS2 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)
        self.pool_hT2 = GraphPool(pool_ratios[2], gat_dims[1], 0.3)

    def graph_readout(self, e: torch.Tensor) -> torch.Tensor:
        """Encoder map ``[B, C, bands, frames]`` -> readout ``[B, 5 * gat_dims[1]]``.

        ``bands`` must equal the ``spectral_nodes`` the back-end was built with (the positional embedding).
        """
        magnitude = e.abs()
        spectral = self.GAT_layer_S(magnitude.amax(dim=3).transpose(1, 2) + self.pos_S)
        temporal = self.GAT_layer_T(magnitude.amax(dim=2).transpose(1, 2))
        out_S, out_T = self.pool_S(spectral), self.pool_T(temporal)

        t1, s1, m1 = self._hs_gal_branch(out_T, out_S, self.master1, "1")
        t2, s2, m2 = self._hs_gal_branch(out_T, out_S, self.master2, "2")
        out_T = torch.maximum(self.drop_way(t1), self.drop_way(t2))
        out_S = torch.maximum(self.drop_way(s1), self.drop_way(s2))
        master = torch.maximum(self.drop_way(m1), self.drop_way(m2))
        return torch.cat(
            [
                out_T.abs().amax(dim=1),
                out_T.mean(dim=1),
                out_S.abs().amax(dim=1),
                out_S.mean(dim=1),
                master.squeeze(1),
            ],
            dim=1,
        )

    def _hs_gal_branch(
        self, out_T: torch.Tensor, out_S: torch.Tensor, master: torch.Tensor, branch: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Two stacked HS-GAL layers with graph pooling between them and a residual on the second."""
        first = getattr(self, f"HtrgGAT_layer_ST{branch}1")
        second = getattr(self, f"HtrgGAT_layer_ST{branch}2")
        t, s, master = first(out_T, out_S, master=master)
        s = getattr(self, f"pool_hS{branch}")(s)
        t = getattr(self, f"pool_hT{branch}")(t)
        t_aug, s_aug, master_aug = second(t, s, master=master)
        return t + t_aug, s + s_aug, master + master_aug


# ------------------------------------------------------------------------------------------- network
@register
class AASIST(GraphBackendMixin, DetectorModel):
    """AASIST: raw-waveform spectro-temporal graph attention network (Jung et al. 2022), ~297k weights."""

    name: ClassVar[str] = "aasist"
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 64600 / 16000,
        "nb_samp": 64600,  # training input length in samples (the official name); must equal the window
        "first_conv": 128,  # sinc filter length (made odd)
        "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]],  # sinc bands, then (in, out) per block
        "gat_dims": [64, 32],
        "pool_ratios": [0.5, 0.7, 0.5, 0.5],
        "temperatures": [2.0, 2.0, 100.0, 100.0],
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if self.window_samples != int(cfg["nb_samp"]):
            raise ValueError(
                f"{self.name}: window_s * sample_rate = {self.window_samples} samples but nb_samp is "
                f"{cfg['nb_samp']}; set both to the same input length"
            )
        filts, gat_dims = cfg["filts"], cfg["gat_dims"]
        pool_ratios, temperatures = cfg["pool_ratios"], cfg["temperatures"]
        encoder_dim = filts[-1][-1]

        self.conv_time = SincFilterbank(filts[0], cfg["first_conv"], cfg["sample_rate"])
        self.first_bn = nn.BatchNorm2d(1)
        self.drop = nn.Dropout(0.5)
        block_widths = [filts[1], filts[2], filts[3], filts[4], filts[4], filts[4]]
        # Each block sits in its own Sequential so parameter names match the official "encoder.i.0.*".
        blocks = [ResidualBlock(c_in, c_out, first=i == 0) for i, (c_in, c_out) in enumerate(block_widths)]
        self.encoder = nn.Sequential(*(nn.Sequential(block) for block in blocks))
        self._build_graph_backend(encoder_dim, SPECTRAL_NODES, gat_dims, pool_ratios, temperatures)
        self.out_layer = nn.Linear(5 * gat_dims[1], 2)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave [B, T]`` -> ``logit_spoof - logit_bonafide`` ``[B]`` (> 0 means fake)."""
        logits = self.official_logits(wave)
        return logits[:, SPOOF_INDEX] - logits[:, BONAFIDE_INDEX]

    def official_logits(self, wave: torch.Tensor) -> torch.Tensor:
        """The official network output ``[B, 2]``: column 0 = spoof, column 1 = bona fide."""
        return self.out_layer(self.drop(self.embedding(wave)))

    def embedding(self, wave: torch.Tensor) -> torch.Tensor:
        """The readout vector ``[B, 5 * gat_dims[1]]`` fed to the output layer."""
        return self.graph_readout(self.encoder(self._spectral_map(wave)))  # [B, C, bands, frames] in

    def _spectral_map(self, wave: torch.Tensor) -> torch.Tensor:
        """Raw waveform -> ``[B, 1, bands, frames]`` rectified, pooled, normalised filterbank output."""
        x = self.conv_time(wave.unsqueeze(1)).unsqueeze(1)
        x = F.max_pool2d(x.abs(), (3, 3))
        return F.selu(self.first_bn(x))


@register
class AASISTL(AASIST):
    """AASIST-L: the light AASIST configuration (Jung et al. 2022), ~85k weights."""

    name: ClassVar[str] = "aasist-l"
    default_config: ClassVar[dict[str, Any]] = {
        **AASIST.default_config,
        "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]],
        "gat_dims": [24, 32],
        "pool_ratios": [0.4, 0.5, 0.7, 0.5],
    }
