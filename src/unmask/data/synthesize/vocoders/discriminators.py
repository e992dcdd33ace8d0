"""GAN discriminators (small versions for CPU) and the losses of the vocoder training loop.

* ``msd``: MelGAN's multi-scale discriminator: the same grouped strided-conv network on the waveform at 1x,
  1/2 and 1/4 rate (average pooling);
* ``mpd``: HiFi-GAN's multi-period discriminator: the waveform folded into ``[T/p, p]`` for periods
  2, 3, 5, 7, 11, seen by 2-D convolutions along time only, so each sees one phase of a periodic pattern.

Each returns, per sub-discriminator, its logits and its feature maps (for feature matching).
Losses: LSGAN (HiFi-GAN), feature matching (L1 between the feature maps of real and fake), and the
reconstruction loss: log-mel L1 plus a multi-resolution STFT loss (spectral convergence + log magnitude L1
at FFT sizes 256, 512, 1024; Yamamoto et al., 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

Outputs = list[tuple[torch.Tensor, list[torch.Tensor]]]
STFT_RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))


class ScaleDiscriminator(nn.Module):
    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = channels
        self.layers = nn.ModuleList([
            weight_norm(nn.Conv1d(1, c, 15, padding=7)),
            weight_norm(nn.Conv1d(c, 4 * c, 41, stride=4, padding=20, groups=4)),
            weight_norm(nn.Conv1d(4 * c, 8 * c, 41, stride=4, padding=20, groups=16)),
            weight_norm(nn.Conv1d(8 * c, 8 * c, 41, stride=4, padding=20, groups=16)),
            weight_norm(nn.Conv1d(8 * c, 8 * c, 5, padding=2)),
        ])
        self.out = weight_norm(nn.Conv1d(8 * c, 1, 3, padding=1))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, features = wave.unsqueeze(1), []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.out(x).flatten(1), features


class MultiScaleDiscriminator(nn.Module):
    def __init__(self, scales: int = 3, channels: int = 16) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(ScaleDiscriminator(channels) for _ in range(scales))

    def forward(self, wave: torch.Tensor) -> Outputs:
        outputs = []
        for i, discriminator in enumerate(self.discriminators):
            if i:
                wave = F.avg_pool1d(wave.unsqueeze(1), 4, stride=2, padding=1).squeeze(1)
            outputs.append(discriminator(wave))
        return outputs


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int = 16) -> None:
        super().__init__()
        self.period = period
        widths = [1, channels, 2 * channels, 4 * channels, 4 * channels]
        self.layers = nn.ModuleList(
            weight_norm(nn.Conv2d(widths[i], widths[i + 1], (5, 1), stride=(3, 1) if i < 3 else 1,
                                  padding=(2, 0)))
            for i in range(len(widths) - 1)
        )
        self.out = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        excess = wave.shape[-1] % self.period
        if excess:
            wave = F.pad(wave, (0, self.period - excess), mode="reflect")
        x = wave.view(wave.shape[0], 1, -1, self.period)
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.1)
            features.append(x)
        return self.out(x).flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), channels: int = 16) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels) for p in periods)

    def forward(self, wave: torch.Tensor) -> Outputs:
        return [discriminator(wave) for discriminator in self.discriminators]


class Discriminators(nn.Module):
    """The union of the named discriminators ("msd", "mpd"); outputs concatenated."""

    def __init__(self, names: tuple[str, ...], channels: int = 16) -> None:
        super().__init__()
        known = {"msd": MultiScaleDiscriminator, "mpd": MultiPeriodDiscriminator}
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise ValueError(f"unknown discriminator(s) {unknown or names}; choose from {', '.join(known)}")
        self.parts = nn.ModuleDict({name: known[name](channels=channels) for name in names})

    def forward(self, wave: torch.Tensor) -> Outputs:
        return [output for part in self.parts.values() for output in part(wave)]


# -- losses --------------------------------------------------------------------------------------------------
def discriminator_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    """LSGAN: real logits towards 1, fake towards 0."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f**2) for (r, _), (f, _) in zip(real, fake, strict=True))


def generator_adversarial_loss(fake: Outputs) -> torch.Tensor:
    return sum(torch.mean((1 - f) ** 2) for f, _ in fake)


def feature_matching_loss(real: Outputs, fake: Outputs) -> torch.Tensor:
    total = 0.0
    for (_, real_maps), (_, fake_maps) in zip(real, fake, strict=True):
        for r, f in zip(real_maps, fake_maps, strict=True):
            total = total + F.l1_loss(f, r.detach())
    return total / max(len(real), 1)


_WINDOWS: dict[int, torch.Tensor] = {}


def _magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    window = _WINDOWS.setdefault(n_fft, torch.hann_window(n_fft))
    spec = torch.stft(wave, n_fft, hop, n_fft, window.to(wave.dtype), return_complex=True)
    return torch.view_as_real(spec).pow(2).sum(-1).clamp_min(1e-8).sqrt()  # safe gradient at 0


def multi_resolution_stft_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes."""
    total = 0.0
    for n_fft, hop in STFT_RESOLUTIONS:
        fake_mag, real_mag = _magnitude(fake, n_fft, hop), _magnitude(real, n_fft, hop)
        convergence = torch.linalg.norm(real_mag - fake_mag) / torch.linalg.norm(real_mag).clamp_min(1e-8)
        total = total + convergence + F.l1_loss(torch.log(fake_mag), torch.log(real_mag))
    return total / len(STFT_RESOLUTIONS)
