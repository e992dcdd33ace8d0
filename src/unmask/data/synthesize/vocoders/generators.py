"""Small neural vocoders of different upsampling families: log-mel (80 bands, hop 256 at 16 kHz) -> waveform.

Each family differs where a detector looks for a fingerprint, in how frames become samples:

* ``melgan``: transposed convolutions (8x, 8x, 4x) each followed by a residual stack of dilated convolutions
  (dilation 1, 3, 9), as MelGAN (Kumar et al., 2019);
* ``hifigan``: transposed convolutions (8x, 8x, 2x, 2x) each followed by multi-receptive-field fusion (the
  average of residual blocks with kernel sizes 3 and 7, dilations 1 and 3), as HiFi-GAN V3 (Kong et al.,
  2020);
* ``upsample-conv``: nearest-neighbour repetition then a convolution ("resize-convolution", Odena et al.,
  2016), same residual stacks as ``melgan``;
* ``subpixel``: a convolution to ``r`` times the channels then a 1-D pixel shuffle (Shi et al., 2016);
* ``istft``: no upsampling layers at all; ConvNeXt blocks at the frame rate predict a log-magnitude and a
  phase per STFT bin and ``torch.istft`` makes the samples (Vocos, Siuzdak 2023; iSTFTNet's idea).

Every model takes a waveform ``[B, T]`` and returns ``[B, T]``: it computes its own log-mel input with
:class:`unmask.features.MelSpectrogram` (so analysis and synthesis can never disagree), then synthesises.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from unmask.features import MelSpectrogram

SAMPLE_RATE = 16_000
N_MELS = 80
N_FFT = 1024
HOP = 256
# TTS front-ends store log(max(mel, 1e-5)); the vocoders see the same floor.
MEL_LOG_EPS = 1e-5
LRELU_SLOPE = 0.1


def log_mel_module(sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS, n_fft: int = N_FFT,
                   hop: int = HOP) -> MelSpectrogram:
    """The vocoders' input (and the training loss's mel): magnitude mel, natural log, HiFi-GAN style."""
    return MelSpectrogram(sample_rate=sample_rate, n_fft=n_fft, win_length=n_fft, hop_length=hop, power=1.0,
                          n_mels=n_mels, f_min=0.0, f_max=sample_rate / 2, log="log", eps=MEL_LOG_EPS,
                          pad_mode="reflect")


def wn_conv(*args: Any, **kwargs: Any) -> nn.Conv1d:
    return weight_norm(nn.Conv1d(*args, **kwargs))


def same_padding(kernel: int, dilation: int = 1) -> int:
    return dilation * (kernel - 1) // 2


class VocoderModel(nn.Module):
    """Waveform in, waveform out (same length). ``hop``: chunk boundaries must be multiples of it so a
    chunk's frames are the whole clip's frames. ``aux_loss`` is 0 except for codecs (commitment)."""

    hop: int
    sample_rate: int

    def reconstruct(self, wave: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def padded_to_hop(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave`` zero-padded at the end to a whole number of hops (a waveform encoder's frames)."""
        excess = wave.shape[-1] % self.hop
        return F.pad(wave, (0, self.hop - excess)) if excess else wave


class MelVocoder(VocoderModel):
    """Log-mel analysis + a frame-rate -> sample-rate network ``synthesise(mel) -> [B, frames * hop]``."""

    def __init__(self, sample_rate: int, n_mels: int, n_fft: int, hop: int) -> None:
        super().__init__()
        self.hop, self.sample_rate = hop, sample_rate
        self.mel = log_mel_module(sample_rate, n_mels, n_fft, hop)

    def reconstruct(self, wave: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mel = self.mel(wave)
        out = self.synthesise(mel)
        length = wave.shape[-1]
        out = out[..., :length] if out.shape[-1] >= length else F.pad(out, (0, length - out.shape[-1]))
        return out, wave.new_zeros(())

    def synthesise(self, mel: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


# -- building blocks -----------------------------------------------------------------------------------------
class ResidualStack(nn.Module):
    """MelGAN residual stack: ``x + conv1x1(lrelu(dilated conv(lrelu(x))))`` for each dilation."""

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 3, 9), kernel: int = 3) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LeakyReLU(0.2), wn_conv(channels, channels, kernel, dilation=d,
                                                     padding=same_padding(kernel, d)),
                          nn.LeakyReLU(0.2), wn_conv(channels, channels, 1))
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


class MRFBlock(nn.Module):
    """HiFi-GAN ResBlock2: ``x + conv(lrelu(x))`` for each dilation, one kernel size."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(wn_conv(channels, channels, kernel, dilation=d,
                                           padding=same_padding(kernel, d)) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


def transposed(channels_in: int, channels_out: int, rate: int) -> nn.ConvTranspose1d:
    """Kernel 2r, stride r: exactly r times the length (the classic checkerboard-prone upsampler)."""
    return weight_norm(nn.ConvTranspose1d(channels_in, channels_out, 2 * rate, stride=rate,
                                          padding=rate // 2 + rate % 2, output_padding=rate % 2))


class NearestUpsample(nn.Module):
    """Repeat each sample r times, then smooth with a convolution (resize-convolution)."""

    def __init__(self, channels_in: int, channels_out: int, rate: int, kernel: int = 7) -> None:
        super().__init__()
        self.rate = rate
        self.conv = wn_conv(channels_in, channels_out, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=self.rate, mode="nearest"))


class SubPixelUpsample(nn.Module):
    """Convolve to ``r * channels_out`` channels, then interleave them in time (1-D PixelShuffle)."""

    def __init__(self, channels_in: int, channels_out: int, rate: int, kernel: int = 5) -> None:
        super().__init__()
        self.rate, self.channels_out = rate, channels_out
        self.conv = wn_conv(channels_in, channels_out * rate, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        batch, _, frames = y.shape
        # [B, C*r, T] -> [B, C, r, T] -> [B, C, T, r] -> [B, C, T*r]: sample j of step t from channel group j.
        y = y.view(batch, self.channels_out, self.rate, frames).permute(0, 1, 3, 2)
        return y.reshape(batch, self.channels_out, frames * self.rate)


# -- the families --------------------------------------------------------------------------------------------
class StackedUpsampler(MelVocoder):
    """conv_pre -> [upsampler(r) -> residual stack] per rate -> conv_post -> tanh (MelGAN layout).

    ``upsampler``: "transposed" (melgan), "nearest" (upsample-conv) or "subpixel".
    """

    _UPSAMPLERS = {"transposed": transposed, "nearest": NearestUpsample, "subpixel": SubPixelUpsample}

    def __init__(self, *, upsampler: str, channels: int = 128, upsample_rates: tuple[int, ...] = (8, 8, 4),
                 dilations: tuple[int, ...] = (1, 3, 9), sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS,
                 n_fft: int = N_FFT, hop: int = HOP) -> None:
        super().__init__(sample_rate, n_mels, n_fft, hop)
        _check_rates(upsample_rates, hop)
        make_upsampler = self._UPSAMPLERS[upsampler]
        self.conv_pre = wn_conv(n_mels, channels, 7, padding=3)
        stages = []
        width = channels
        for rate in upsample_rates:
            narrower = max(width // 2, 8)
            stages.append(nn.Sequential(nn.LeakyReLU(0.2), make_upsampler(width, narrower, rate),
                                        ResidualStack(narrower, tuple(dilations))))
            width = narrower
        self.stages = nn.Sequential(*stages)
        self.conv_post = wn_conv(width, 1, 7, padding=3)

    def synthesise(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.conv_pre(mel))
        return torch.tanh(self.conv_post(F.leaky_relu(x, 0.2))).squeeze(1)


class HiFiGANGenerator(MelVocoder):
    """HiFi-GAN: transposed-conv upsampling, each followed by the mean of MRF blocks (kernels 3 and 7)."""

    def __init__(self, *, channels: int = 128, upsample_rates: tuple[int, ...] = (8, 8, 2, 2),
                 resblock_kernels: tuple[int, ...] = (3, 7), resblock_dilations: tuple[int, ...] = (1, 3),
                 sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS, n_fft: int = N_FFT,
                 hop: int = HOP) -> None:
        super().__init__(sample_rate, n_mels, n_fft, hop)
        _check_rates(upsample_rates, hop)
        self.conv_pre = wn_conv(n_mels, channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        width = channels
        for rate in upsample_rates:
            narrower = max(width // 2, 8)
            self.ups.append(transposed(width, narrower, rate))
            self.mrfs.append(nn.ModuleList(MRFBlock(narrower, k, tuple(resblock_dilations))
                                           for k in resblock_kernels))
            width = narrower
        self.conv_post = wn_conv(width, 1, 7, padding=3)

    def synthesise(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for up, blocks in zip(self.ups, self.mrfs, strict=True):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = sum(block(x) for block in blocks) / len(blocks)
        return torch.tanh(self.conv_post(F.leaky_relu(x))).squeeze(1)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (k7) -> LayerNorm -> pointwise expand x3 -> GELU -> pointwise back, scaled residual."""

    def __init__(self, channels: int, expansion: int = 3) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.expand = nn.Linear(channels, expansion * channels)
        self.project = nn.Linear(expansion * channels, channels)
        self.scale = nn.Parameter(torch.full((channels,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(x).transpose(1, 2)
        y = self.project(F.gelu(self.expand(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class ISTFTVocoder(MelVocoder):
    """Vocos-style: ConvNeXt at the frame rate -> (log-magnitude, phase) per bin -> inverse STFT."""

    def __init__(self, *, channels: int = 192, blocks: int = 4, sample_rate: int = SAMPLE_RATE,
                 n_mels: int = N_MELS, n_fft: int = N_FFT, hop: int = HOP) -> None:
        super().__init__(sample_rate, n_mels, n_fft, hop)
        self.n_fft = n_fft
        self.embed = nn.Conv1d(n_mels, channels, 7, padding=3)
        self.norm_in = nn.LayerNorm(channels)
        self.blocks = nn.Sequential(*(ConvNeXtBlock(channels) for _ in range(blocks)))
        self.norm_out = nn.LayerNorm(channels)
        self.head = nn.Linear(channels, 2 * (n_fft // 2 + 1))
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def synthesise(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.norm_in(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        x = self.norm_out(self.blocks(x).transpose(1, 2))
        log_magnitude, phase = self.head(x).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude.clamp(max=8.0))  # clamp: exp overflow early in training
        spec = torch.polar(magnitude, phase)  # the phase is predicted directly (Vocos: cos/sin of one angle)
        return torch.istft(spec, self.n_fft, self.hop, self.n_fft, self.window, center=True,
                           length=(mel.shape[-1] - 1) * self.hop)


def _check_rates(rates: tuple[int, ...], hop: int) -> None:
    product = 1
    for rate in rates:
        product *= rate
    if product != hop:
        raise ValueError(f"upsample rates {list(rates)} multiply to {product}, not the hop {hop}")
