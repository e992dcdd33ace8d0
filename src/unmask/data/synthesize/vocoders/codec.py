"""A small neural audio codec (SoundStream/EnCodec/DAC family): waveform -> codes -> waveform.

Encoder: a 7-tap convolution, then per stride (2, 4, 5, 8: 320 samples per code frame, 50 frames/s at
16 kHz) a residual unit (dilations 1 and 3) and a strided convolution doubling the channels, then a
projection to a ``latent_dim`` vector per frame. Quantiser: ``n_codebooks`` residual vector-quantiser stages
of ``codebook_size`` codes each; each stage quantises what the previous ones left. Codebooks are learnt by
exponential moving averages (van den Oord et al., 2017; SoundStream), initialised from the first batch and
re-seeded with batch vectors when a code goes unused. Decoder: the mirror image with transposed
convolutions. Training draws the number of stages per batch at random ("quantiser dropout"), so one model
serves every bitrate: ``n_q`` stages cost ``n_q * log2(codebook_size) * 50`` bit/s (256 codes: 400 bit/s
per stage, so 2/4/8 stages = 0.8/1.6/3.2 kbit/s).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from unmask.data.synthesize.vocoders.generators import VocoderModel, same_padding, wn_conv


class CodecResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), wn_conv(channels, channels, 7, dilation=dilation,
                                                     padding=same_padding(7, dilation)),
                                   nn.ELU(), wn_conv(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResidualVectorQuantizer(nn.Module):
    """``n_codebooks`` stages of EMA vector quantisation on ``[B, D, frames]`` latents."""

    def __init__(self, dim: int, n_codebooks: int = 8, codebook_size: int = 256, decay: float = 0.95,
                 dead_threshold: float = 0.5) -> None:
        super().__init__()
        self.n_codebooks, self.codebook_size, self.decay = n_codebooks, codebook_size, decay
        self.dead_threshold = dead_threshold
        self.register_buffer("codebooks", torch.randn(n_codebooks, codebook_size, dim))
        self.register_buffer("cluster_size", torch.ones(n_codebooks, codebook_size))
        self.register_buffer("embed_sum", self.codebooks.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def encode(self, latent: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """``[B, D, frames]`` -> code indices ``[n_q, B, frames]`` (each in ``[0, codebook_size)``)."""
        residual = latent.transpose(1, 2).detach()
        codes = []
        for stage in range(self._stages(n_q)):
            index = self._nearest(residual, stage)
            codes.append(index)
            residual = residual - self.codebooks[stage][index]
        return torch.stack(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Code indices ``[n_q, B, frames]`` -> quantised latent ``[B, D, frames]``."""
        total = sum(self.codebooks[stage][index] for stage, index in enumerate(codes))
        return total.transpose(1, 2)

    def forward(self, latent: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantise with ``n_q`` stages (all by default); returns the straight-through latent and the
        commitment loss. In training mode the codebooks follow the batch (EMA)."""
        vectors = latent.transpose(1, 2)  # [B, frames, D]
        if self.training and not bool(self.initialised):
            self._initialise(vectors.detach())
        residual = vectors.detach()
        quantised = torch.zeros_like(vectors)
        for stage in range(self._stages(n_q)):
            index = self._nearest(residual, stage)
            if self.training:
                self._update(stage, residual.reshape(-1, residual.shape[-1]), index.reshape(-1))
            chosen = self.codebooks[stage][index]
            quantised = quantised + chosen
            residual = residual - chosen
        commitment = F.mse_loss(vectors, quantised.detach())
        straight_through = vectors + (quantised - vectors).detach()
        return straight_through.transpose(1, 2), commitment

    def _stages(self, n_q: int | None) -> int:
        if n_q is None:
            return self.n_codebooks
        if not 1 <= n_q <= self.n_codebooks:
            raise ValueError(f"n_q must be in 1..{self.n_codebooks}, got {n_q}")
        return n_q

    def _nearest(self, vectors: torch.Tensor, stage: int) -> torch.Tensor:
        codebook = self.codebooks[stage]
        distance = (vectors.pow(2).sum(-1, keepdim=True) - 2 * vectors @ codebook.T
                    + codebook.pow(2).sum(-1))
        return distance.argmin(-1)

    @torch.no_grad()
    def _initialise(self, vectors: torch.Tensor) -> None:
        """Each stage's codes start as random residual vectors of the first batch (what they must cover)."""
        residual = vectors.reshape(-1, vectors.shape[-1])
        for stage in range(self.n_codebooks):
            picks = torch.randint(0, residual.shape[0], (self.codebook_size,))
            self.codebooks[stage] = residual[picks]
            self.embed_sum[stage] = residual[picks]
            self.cluster_size[stage] = 1.0
            residual = residual - self.codebooks[stage][self._nearest(residual, stage)]
        self.initialised.fill_(True)

    @torch.no_grad()
    def _update(self, stage: int, vectors: torch.Tensor, index: torch.Tensor) -> None:
        one_hot = F.one_hot(index, self.codebook_size).to(vectors.dtype)
        self.cluster_size[stage].mul_(self.decay).add_(one_hot.sum(0), alpha=1 - self.decay)
        self.embed_sum[stage].mul_(self.decay).add_(one_hot.T @ vectors, alpha=1 - self.decay)
        size = self.cluster_size[stage]
        smoothed = (size + 1e-5) / (size.sum() + self.codebook_size * 1e-5) * size.sum()  # Laplace smoothing
        self.codebooks[stage] = self.embed_sum[stage] / smoothed.unsqueeze(1)
        dead = size < self.dead_threshold
        if dead.any():  # re-seed unused codes with vectors of this batch, so no code stays wasted
            picks = torch.randint(0, vectors.shape[0], (int(dead.sum()),))
            self.codebooks[stage][dead] = vectors[picks]
            self.embed_sum[stage][dead] = vectors[picks]
            self.cluster_size[stage][dead] = 1.0


class RVQCodec(VocoderModel):
    """Strided-conv encoder -> residual VQ with EMA codebooks -> transposed-conv decoder."""

    def __init__(self, *, channels: int = 16, strides: tuple[int, ...] = (2, 4, 5, 8), latent_dim: int = 64,
                 n_codebooks: int = 8, codebook_size: int = 256, max_channels: int = 192,
                 sample_rate: int = 16_000) -> None:
        super().__init__()
        self.hop = 1
        for stride in strides:
            self.hop *= stride
        self.n_codebooks, self.codebook_size, self.sample_rate = n_codebooks, codebook_size, sample_rate
        widths = [min(channels * 2**i, max_channels) for i in range(len(strides) + 1)]
        encoder: list[nn.Module] = [wn_conv(1, widths[0], 7, padding=3)]
        for i, stride in enumerate(strides):
            encoder += [CodecResidualUnit(widths[i], 1), CodecResidualUnit(widths[i], 3), nn.ELU(),
                        wn_conv(widths[i], widths[i + 1], 2 * stride, stride=stride,
                                padding=(stride + 1) // 2)]
        encoder += [nn.ELU(), wn_conv(widths[-1], latent_dim, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)
        self.quantizer = ResidualVectorQuantizer(latent_dim, n_codebooks, codebook_size)
        decoder: list[nn.Module] = [wn_conv(latent_dim, widths[-1], 7, padding=3)]
        for i, stride in reversed(list(enumerate(strides))):
            decoder += [nn.ELU(), weight_norm(nn.ConvTranspose1d(widths[i + 1], widths[i], 2 * stride,
                                                                 stride=stride, padding=stride // 2
                                                                 + stride % 2, output_padding=stride % 2)),
                        CodecResidualUnit(widths[i], 1), CodecResidualUnit(widths[i], 3)]
        decoder += [nn.ELU(), wn_conv(widths[0], 1, 7, padding=3), nn.Tanh()]
        self.decoder = nn.Sequential(*decoder)

    def bitrate(self, n_q: int) -> float:
        """Bits per second with ``n_q`` stages."""
        return n_q * torch.log2(torch.tensor(float(self.codebook_size))).item() * self.sample_rate / self.hop

    def encode(self, wave: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """``[B, T]`` -> code indices ``[n_q, B, ceil(T / hop)]``."""
        return self.quantizer.encode(self.encoder(self.padded_to_hop(wave).unsqueeze(1)), n_q)

    def decode(self, codes: torch.Tensor, length: int | None = None) -> torch.Tensor:
        out = self.decoder(self.quantizer.decode(codes)).squeeze(1)
        return out if length is None else out[..., :length]

    def reconstruct(self, wave: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if n_q is None and self.training:  # quantiser dropout: every bitrate gets trained
            n_q = int(torch.randint(1, self.n_codebooks + 1, ()).item())
        latent = self.encoder(self.padded_to_hop(wave).unsqueeze(1))
        quantised, commitment = self.quantizer(latent, n_q)
        out = self.decoder(quantised).squeeze(1)
        return out[..., : wave.shape[-1]], commitment
