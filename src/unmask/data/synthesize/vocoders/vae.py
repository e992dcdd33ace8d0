"""A small waveform VAE with Snake activations (the Oobleck / DAC design): waveform -> latent -> waveform.

Why it is in the zoo. Latent-diffusion music generators do not vocode a mel: they decode a continuous
latent sequence with a convolutional VAE decoder whose activations are Snake, ``x + sin^2(a x) / a``
(Stable Audio Open's Oobleck, ACE-Step 1.5 and DiffRhythm decode this way; DAC and BigVGAN use Snake
too). The zoo's other systems are mel vocoders and an RVQ codec with ELU; this family gives a detector
the decoder type of that branch of generators. Its latent rate is its own (hop 512: 31.25 frames/s at
16 kHz), not any one generator's, so a held-out generator's comb spacing stays unseen.

Encoder: a 7-tap convolution, then per stride (2, 4, 8, 8) residual units (dilations 1, 3, 9) and a
strided convolution doubling the channels, then a projection to a mean and a scale per latent channel.
Bottleneck: ``z = mean + scale * noise`` in training (``scale = softplus(.) + 1e-4``), the mean at
inference, with the KL divergence to a unit Gaussian as the auxiliary loss (weighted ``kl_weight``).
Decoder: the mirror image with transposed convolutions, Snake before each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from unmask.data.synthesize.vocoders.generators import VocoderModel, same_padding, wn_conv


class _SnakeFunction(torch.autograd.Function):
    """Snake with its gradient written out: autograd's own graph of sin, square and divide kept three
    full-size intermediates and ran the decoder several times slower on CPU."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 - torch's ctx
        ctx.save_for_backward(x, alpha)
        return x + torch.sin(alpha * x).square_().div_(alpha)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
        x, alpha = ctx.saved_tensors
        phase = alpha * x
        double = torch.sin(2 * phase)  # d/dx sin^2(a x) / a = sin(2 a x)
        grad_x = grad * (1 + double)
        grad_alpha = grad * (x * double - torch.sin(phase).square_().div_(alpha)) / alpha
        return grad_x, grad_alpha.sum(dim=(0, 2), keepdim=True)


class Snake(nn.Module):
    """``x + sin^2(a x) / a`` with a learnt ``a`` per channel (Ziyin et al., 2020): a periodic bias that
    suits audio, and the activation whose fingerprint this family carries. ``a`` is kept away from 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SnakeFunction.apply(x, self.alpha.abs() + 1e-4)


class SnakeResidualUnit(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.block = nn.Sequential(Snake(channels),
                                   wn_conv(channels, channels, 7, dilation=dilation,
                                           padding=same_padding(7, dilation)),
                                   Snake(channels), wn_conv(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SnakeVAE(VocoderModel):
    """Strided-conv encoder -> Gaussian latent -> transposed-conv decoder, Snake throughout."""

    def __init__(self, *, channels: int = 16, strides: tuple[int, ...] = (2, 4, 8, 8), latent_dim: int = 32,
                 max_channels: int = 192, kl_weight: float = 1e-4, sample_rate: int = 16_000) -> None:
        super().__init__()
        self.hop = 1
        for stride in strides:
            self.hop *= stride
        self.sample_rate, self.kl_weight = sample_rate, kl_weight
        widths = [min(channels * 2**i, max_channels) for i in range(len(strides) + 1)]
        encoder: list[nn.Module] = [wn_conv(1, widths[0], 7, padding=3)]
        for i, stride in enumerate(strides):
            encoder += [*(SnakeResidualUnit(widths[i], d) for d in (1, 3)), Snake(widths[i]),
                        wn_conv(widths[i], widths[i + 1], 2 * stride, stride=stride,
                                padding=(stride + 1) // 2)]
        encoder += [Snake(widths[-1]), wn_conv(widths[-1], 2 * latent_dim, 3, padding=1)]
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = [wn_conv(latent_dim, widths[-1], 7, padding=3)]
        for i, stride in reversed(list(enumerate(strides))):
            decoder += [Snake(widths[i + 1]),
                        weight_norm(nn.ConvTranspose1d(widths[i + 1], widths[i], 2 * stride, stride=stride,
                                                       padding=stride // 2 + stride % 2,
                                                       output_padding=stride % 2)),
                        *(SnakeResidualUnit(widths[i], d) for d in (1, 3))]
        decoder += [Snake(widths[0]), wn_conv(widths[0], 1, 7, padding=3), nn.Tanh()]
        self.decoder = nn.Sequential(*decoder)

    def posterior(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, T]`` -> mean and scale ``[B, latent_dim, ceil(T / hop)]``."""
        mean, raw_scale = self.encoder(self.padded_to_hop(wave).unsqueeze(1)).chunk(2, dim=1)
        return mean, F.softplus(raw_scale) + 1e-4

    def reconstruct(self, wave: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if n_q is not None:
            raise ValueError("snake-vae has a continuous latent: n_q (quantiser stages) does not apply")
        mean, scale = self.posterior(wave)
        latent = mean + scale * torch.randn_like(mean) if self.training else mean
        kl = 0.5 * (mean.square() + scale.square() - 2 * torch.log(scale) - 1).sum(dim=1).mean()
        out = self.decoder(latent).squeeze(1)
        return out[..., : wave.shape[-1]], self.kl_weight * kl

    @torch.no_grad()
    def generate_like(self, wave: torch.Tensor, blur_frames: float,
                      generator: torch.Generator) -> torch.Tensor:
        """``[B, T]`` -> ``[B, T]``: the decoder driven by a latent that no encoder wrote.

        Why. A latent-diffusion generator does not encode a real song: it samples a latent sequence
        whose slow course (the notes, the sections) it has learnt, and whose fine detail is its own. Its
        decoder then renders detail it never saw come from real audio. A copy through the encoder's own
        latent keeps the real song's fine detail, so the zoo's other systems cannot teach that. Here the
        latent's course comes from the real song (its mean, blurred over ``blur_frames`` frames, a
        Gaussian's sigma), and the detail the blur took away is replaced by Gaussian noise of the same
        size per channel. Nothing in it is any one generator's design: the latent rate is this VAE's."""
        mean, _ = self.posterior(wave)
        course = gaussian_blur_time(mean, blur_frames)
        detail = (mean - course).std(dim=-1, keepdim=True)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        return self.decoder(course + detail * noise).squeeze(1)[..., : wave.shape[-1]]


def gaussian_blur_time(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``[B, C, L]`` blurred along L by a Gaussian of ``sigma`` steps (the end values held beyond the ends,
    which works for a latent of any length)."""
    if sigma <= 0:
        return x
    radius = max(1, int(round(3 * sigma)))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=x.dtype) / sigma) ** 2)
    kernel = (taps / taps.sum()).view(1, 1, -1).repeat(x.shape[1], 1, 1)
    return F.conv1d(F.pad(x, (radius, radius), mode="replicate"), kernel, groups=x.shape[1])
