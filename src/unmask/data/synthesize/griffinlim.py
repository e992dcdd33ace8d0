"""Griffin-Lim copy-synthesis: keep an STFT magnitude, throw the phase away, and estimate a new one.

Griffin-Lim (1984) alternates between the magnitude it is given and the phase of the STFT of its current
estimate; the "fast" variant (Perraudin et al., 2013) adds a momentum term. The result has the original's
magnitude (so speaker, words and channel) but phase artefacts typical of early neural TTS (Tacotron) and of
any pipeline that inverts a magnitude spectrogram.

``mel_bands`` turns on the mel variant that imitates a TTS acoustic model + vocoder pipeline: the magnitude is
projected onto ``mel_bands`` Slaney mel filters, log-compressed as TTS front-ends store it, and mapped back to
a linear magnitude with the filterbank's pseudo-inverse (clamped at 0) before Griffin-Lim, so the fine
harmonic structure above a few hundred Hz is smeared the way a mel-conditioned vocoder sees it.
Settings: ``n_fft``/``hop``/``win_length`` (samples at the working rate), ``n_iter``, ``momentum``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from unmask.data.synthesize.base import CopySystem
from unmask.features.filters import mel_filterbank

# TTS front-ends store log(max(mel, 1e-5)); the floor is part of what the vocoder sees.
_MEL_LOG_FLOOR = 1e-5


@dataclass(frozen=True)
class GriffinLim(CopySystem):
    """STFT magnitude (optionally through an 80-band mel spectrogram) -> fast Griffin-Lim -> waveform."""

    name: str = "griffinlim"
    n_fft: int = 512
    hop: int = 128
    win_length: int | None = None
    n_iter: int = 32
    momentum: float = 0.99
    mel_bands: int | None = None

    def __post_init__(self) -> None:
        if self.n_iter < 1:
            raise ValueError(f"n_iter must be >= 1, got {self.n_iter}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 < self.hop <= (self.win_length or self.n_fft) <= self.n_fft:
            raise ValueError(f"need 0 < hop <= win_length <= n_fft, got hop={self.hop}, "
                             f"win_length={self.win_length}, n_fft={self.n_fft}")

    def _resynthesize(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float64))
        window = torch.hann_window(self.win_length or self.n_fft, dtype=torch.float64)
        magnitude = self._stft(x, window).abs()
        if self.mel_bands is not None:
            magnitude = self._through_mel(magnitude, sample_rate)
        return self._griffin_lim(magnitude, window, x.numel(), rng).numpy()

    def _stft(self, x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, self.n_fft, self.hop, window.numel(), window, center=True, return_complex=True)

    def _istft(self, spec: torch.Tensor, window: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.n_fft, self.hop, window.numel(), window, center=True, length=length)

    def _through_mel(self, magnitude: torch.Tensor, sample_rate: int) -> torch.Tensor:
        basis = torch.from_numpy(mel_filterbank(sample_rate, self.n_fft, self.mel_bands))
        log_mel = torch.log(torch.clamp(basis @ magnitude, min=_MEL_LOG_FLOOR))
        inverse = torch.linalg.pinv(basis)
        return torch.clamp(inverse @ torch.exp(log_mel), min=0.0)

    def _griffin_lim(self, magnitude: torch.Tensor, window: torch.Tensor, length: int,
                     rng: np.random.Generator) -> torch.Tensor:
        angles = torch.from_numpy(np.exp(2j * np.pi * rng.random(tuple(magnitude.shape))))
        previous = torch.zeros_like(angles)
        for _ in range(self.n_iter):
            rebuilt = self._stft(self._istft(magnitude * angles, window, length), window)
            angles = rebuilt - previous * (self.momentum / (1 + self.momentum))
            angles = angles / (angles.abs() + 1e-16)
            previous = rebuilt
        return self._istft(magnitude * angles, window, length)
