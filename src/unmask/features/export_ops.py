"""Real-valued stand-ins for the few torch ops that ONNX export cannot take (complex STFT outputs).

``torch.onnx.export`` (TorchScript exporter) has no complex tensors, so ``torch.stft(...,
return_complex=True)`` followed by ``abs`` does not export. While a model is being exported
(``torch.onnx.is_in_onnx_export()``), the feature modules compute the STFT here instead: the framed
signal convolved with the windowed DFT basis (one strided ``Conv1d``, which every ONNX runtime runs fast).
The numbers equal ``torch.stft``'s to float32 rounding (``tests/models/test_onnx.py`` holds the exported
models to their torch logits). Outside export nothing changes: the torch path keeps ``torch.stft``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias


def exporting() -> bool:
    """True while ``torch.onnx.export`` traces a model."""
    return bool(torch.onnx.is_in_onnx_export())


def dft_basis(window: torch.Tensor, n_fft: int) -> torch.Tensor:
    """``[2 * (n_fft // 2 + 1), 1, n_fft]`` conv kernels: ``window * cos`` rows, then ``-window * sin``."""
    bins = n_fft // 2 + 1
    k = torch.arange(bins, dtype=torch.float64).unsqueeze(1)
    n = torch.arange(n_fft, dtype=torch.float64).unsqueeze(0)
    angle = 2 * math.pi * ((k * n) % n_fft) / n_fft  # reduced mod n_fft: exact phases for large k * n
    win = window.detach().to("cpu", torch.float64).unsqueeze(0)
    basis = torch.cat([win * torch.cos(angle), -win * torch.sin(angle)])
    return basis.to(window.dtype).unsqueeze(1)


def stft_parts(
    wave: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts ``[B, n_fft // 2 + 1, frames]`` of ``torch.stft(wave [B, T], n_fft,
    hop_length, window=window (n_fft long), center, pad_mode, return_complex=True)``, without complex ops."""
    x = wave.unsqueeze(1)
    if center:
        x = F.pad(x, (n_fft // 2, n_fft // 2), mode=pad_mode)
    basis = dft_basis(window, n_fft).to(wave.device)
    out = F.conv1d(x, basis, stride=hop_length)
    bins = n_fft // 2 + 1
    return out[:, :bins], out[:, bins:]


def stft_power(
    wave: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: torch.Tensor,
    *,
    center: bool = True,
    pad_mode: str = "reflect",
    power: float = 2.0,
) -> torch.Tensor:
    """``|STFT|**power`` ``[B, n_fft // 2 + 1, frames]`` by :func:`stft_parts`."""
    real, imag = stft_parts(wave, n_fft, hop_length, window, center=center, pad_mode=pad_mode)
    squared = real.square() + imag.square()
    if power == 2.0:
        return squared
    if power == 1.0:
        return squared.sqrt()
    return squared.clamp_min(torch.finfo(squared.dtype).tiny) ** (power / 2.0)
