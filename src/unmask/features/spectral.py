"""Spectral front-ends as torch modules: STFT, (log-)mel, MFCC, LFCC, deltas and a constant-Q transform.

Every module takes a waveform ``[B, T]`` (or ``[T]``) of floats and returns ``[B, F, frames]`` (or
``[F, frames]``), is differentiable with respect to the waveform, keeps its fixed matrices (windows,
filterbanks, DCT, CQT kernels) in registered buffers so ``.to(device)`` moves them, and computes in the
input's floating dtype. ``config()`` returns the constructor settings plus ``"name"`` so a detector
checkpoint can store them and :func:`unmask.features.build_feature` can rebuild the same front-end.

Defaults are for 16 kHz anti-spoofing: 25 ms Hann windows every 10 ms with a 512-point FFT for
spectrogram/mel/MFCC, the ASVspoof LFCC baseline for :class:`LFCC`, and 7 octaves from C1 for :class:`CQT`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.features import export_ops, filters

LOG_KINDS = (None, "log", "log10", "db")
PAD_MODES = ("constant", "reflect", "replicate", "circular")
# librosa/scipy edge mode -> torch padding mode ("interp" fits the edge windows instead of padding).
DELTA_MODES = {
    "interp": None,
    "nearest": "replicate",
    "mirror": "reflect",
    "wrap": "circular",
    "constant": "constant",
}

DEFAULT_SAMPLE_RATE = 16_000
_DB_AMIN_POWER = 1e-10  # librosa.power_to_db's floor; its square root (1e-5) is amplitude_to_db's


class FeatureModule(nn.Module):
    """Shared plumbing: input checks, batching of ``[T]`` input, and ``config()``."""

    name: ClassVar[str]
    n_features: int

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self._settings = dict(settings)

    def config(self) -> dict[str, Any]:
        """Constructor settings plus ``"name"``; ``build_feature(**module.config())`` rebuilds it."""
        return {"name": self.name, **self._settings}

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self._settings.items())

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        batch, single = _as_batch(waveform, type(self).__name__)
        features = self._features(batch)
        return features[0] if single else features

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, F, frames]
        raise NotImplementedError


def _as_batch(waveform: torch.Tensor, who: str) -> tuple[torch.Tensor, bool]:
    if not isinstance(waveform, torch.Tensor):
        raise TypeError(f"{who} expects a torch.Tensor waveform, got {type(waveform).__name__}")
    if not waveform.is_floating_point():
        raise TypeError(
            f"{who} expects a floating-point waveform, got {waveform.dtype}; convert it with .float()"
        )
    if waveform.dim() not in (1, 2):
        raise ValueError(f"{who} expects a waveform [T] or a batch [B, T], got shape {tuple(waveform.shape)}")
    if waveform.shape[-1] == 0:
        raise ValueError(f"{who} got an empty waveform (0 samples)")
    if waveform.dim() == 1:
        return waveform.unsqueeze(0), True
    return waveform, False


def _register_constant(module: nn.Module, name: str, value: Any) -> None:
    """Store a fixed matrix as a float64, non-persistent buffer.

    float64 so a float64 waveform gets full-precision constants (each forward casts to the input dtype,
    a negligible copy); non-persistent because it is rebuilt from ``config()``, so checkpoints stay small
    and cannot carry a filterbank that disagrees with their settings. It still follows ``.to(device)``.
    """
    module.register_buffer(name, torch.as_tensor(value, dtype=torch.float64), persistent=False)


def _check_choice(what: str, value: object, allowed: tuple | dict) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(map(repr, allowed))}")


def compress(
    spec: torch.Tensor,
    log: str | None,
    *,
    eps: float,
    power: float = 2.0,
    amin: float | None = None,
    top_db: float | None = 80.0,
) -> torch.Tensor:
    """Log-compress a non-negative ``[B, F, frames]`` spectrogram.

    ``"log"``/``"log10"``: ``log(spec + eps)``. ``"db"``: librosa's ``power_to_db`` (``power=2``) or
    ``amplitude_to_db`` (``power=1``) with ``ref=1``: ``(20/power) * log10(max(spec, amin))``, then, if
    ``top_db`` is set, floored at ``max - top_db`` where the max is taken **per item** (librosa takes it
    over its whole input), so a batch gives the same features as its items one by one.
    """
    if log is None:
        return spec
    if log == "log":
        return torch.log(spec + eps)
    if log == "log10":
        return torch.log10(spec + eps)
    _check_choice("log", log, LOG_KINDS)
    floor = _DB_AMIN_POWER ** (power / 2.0) if amin is None else amin
    db = (20.0 / power) * torch.log10(spec.clamp_min(floor))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


class Spectrogram(FeatureModule):
    """STFT power (``power=2``) or magnitude (``power=1``) spectrogram ``[B, n_fft//2 + 1, frames]``.

    Framing follows ``torch.stft``/``librosa.stft``: with ``center=True`` the signal is padded by
    ``n_fft // 2`` on both sides (``pad_mode``, zeros by default as in librosa >= 0.10) and there are
    ``1 + T // hop_length`` frames. ``window`` is any scipy window name, ``win_length`` samples long and
    zero-padded to ``n_fft`` in the middle. ``log`` picks an optional compression (see :func:`compress`).
    """

    name = "spectrogram"

    def __init__(
        self,
        *,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_fft: int = 512,
        win_length: int | None = 400,
        hop_length: int = 160,
        window: str = "hann",
        periodic_window: bool = True,
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        log: str | None = None,
        eps: float = 1e-6,
        amin: float | None = None,
        top_db: float | None = 80.0,
        pre_emphasis: float = 0.0,
    ) -> None:
        super().__init__(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
            window=window, periodic_window=periodic_window, center=center, pad_mode=pad_mode, power=power,
            log=log, eps=eps, amin=amin, top_db=top_db, pre_emphasis=pre_emphasis,
        )  # fmt: skip
        _check_choice("pad_mode", pad_mode, PAD_MODES)
        _check_choice("log", log, LOG_KINDS)
        if hop_length <= 0:
            raise ValueError(f"hop_length must be positive, got {hop_length}")
        if power <= 0:
            raise ValueError(f"power must be positive (1 = magnitude, 2 = power), got {power}")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.center = center
        self.pad_mode = pad_mode
        self.power = float(power)
        self.log = log
        self.eps = eps
        self.amin = amin
        self.top_db = top_db
        self.pre_emphasis = float(pre_emphasis)
        win = filters.window(window, win_length or n_fft, n_fft, periodic=periodic_window)
        _register_constant(self, "window", win)
        self.n_features = n_fft // 2 + 1

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def linear_spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> uncompressed ``|STFT|**power`` ``[B, n_fft//2 + 1, frames]``."""
        if not self.center and waveform.shape[-1] < self.n_fft:
            raise ValueError(
                f"waveform of {waveform.shape[-1]} samples is shorter than n_fft={self.n_fft} with "
                "center=False; pad it or use center=True"
            )
        if self.pre_emphasis:
            # y[0] = x[0], y[t] = x[t] - a x[t-1]: MATLAB filter([1 -a], 1, x), as in the ASVspoof baselines.
            waveform = torch.cat(
                [waveform[..., :1], waveform[..., 1:] - self.pre_emphasis * waveform[..., :-1]], dim=-1
            )
        if export_ops.exporting():  # ONNX export has no complex tensors: the same STFT by convolution
            return export_ops.stft_power(
                waveform, self.n_fft, self.hop_length, self.window.to(waveform.dtype),
                center=self.center, pad_mode=self.pad_mode, power=self.power,
            )  # fmt: skip
        stft = torch.stft(
            waveform,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.n_fft,
            window=self.window.to(waveform.dtype),
            center=self.center,
            pad_mode=self.pad_mode,
            return_complex=True,
        )
        if self.power == 1.0:
            return stft.abs()  # d|z|/dz is defined as 0 at z = 0, so silence does not give NaN gradients
        # |z|^2 without a square root (safe gradient at 0); two squares beat view_as_real(..).pow(2).sum(-1)
        # by about 2x on CPU, where the size-2 reduction over the last axis is strided.
        power = stft.real.square() + stft.imag.square()
        if self.power == 2.0:
            return power
        return power.clamp_min(torch.finfo(power.dtype).tiny) ** (self.power / 2.0)

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        spec = self.linear_spectrogram(waveform)
        return compress(spec, self.log, eps=self.eps, power=self.power, amin=self.amin, top_db=self.top_db)


class LogSpectrogram(Spectrogram):
    """:class:`Spectrogram` with ``log(power + 1e-6)`` by default."""

    name = "logspectrogram"

    def __init__(self, *, log: str | None = "log", **kwargs: Any) -> None:
        super().__init__(log=log, **kwargs)


class MelSpectrogram(FeatureModule):
    """Mel spectrogram ``[B, n_mels, frames]``: an STFT power spectrogram times a mel filterbank.

    The filterbank is ``librosa.filters.mel`` (``mel_scale`` "slaney" or "htk", ``norm`` "slaney" area
    normalisation or ``None``, ``f_min``/``f_max`` in Hz; ``f_max=None`` is Nyquist). STFT settings are
    as in :class:`Spectrogram`.
    """

    name = "melspectrogram"

    def __init__(
        self,
        *,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_fft: int = 512,
        win_length: int | None = 400,
        hop_length: int = 160,
        window: str = "hann",
        periodic_window: bool = True,
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
        mel_scale: str = "slaney",
        norm: str | None = "slaney",
        log: str | None = None,
        eps: float = 1e-6,
        amin: float | None = None,
        top_db: float | None = 80.0,
    ) -> None:
        stft_settings = dict(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length, window=window,
            periodic_window=periodic_window, center=center, pad_mode=pad_mode, power=power,
        )  # fmt: skip
        super().__init__(
            **stft_settings, n_mels=n_mels, f_min=f_min, f_max=f_max, mel_scale=mel_scale, norm=norm,
            log=log, eps=eps, amin=amin, top_db=top_db,
        )  # fmt: skip
        _check_choice("log", log, LOG_KINDS)
        self.spectrogram = Spectrogram(**stft_settings)
        fbank = filters.mel_filterbank(
            sample_rate, n_fft, n_mels, f_min=f_min, f_max=f_max, scale=mel_scale, norm=norm
        )
        _register_constant(self, "filterbank", fbank)
        self.power, self.log, self.eps, self.amin, self.top_db = float(power), log, eps, amin, top_db
        self.n_features = n_mels

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        return self.spectrogram.num_frames(n_samples)

    def mel_power(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> uncompressed mel spectrogram ``[B, n_mels, frames]``."""
        spec = self.spectrogram.linear_spectrogram(waveform)
        return torch.matmul(self.filterbank.to(spec.dtype), spec)

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        mel = self.mel_power(waveform)
        return compress(mel, self.log, eps=self.eps, power=self.power, amin=self.amin, top_db=self.top_db)


class LogMel(MelSpectrogram):
    """:class:`MelSpectrogram` with ``log(mel + 1e-6)`` by default (``log="db"`` for decibels)."""

    name = "logmel"

    def __init__(self, *, log: str | None = "log", **kwargs: Any) -> None:
        super().__init__(log=log, **kwargs)


class MFCC(FeatureModule):
    """Mel-frequency cepstral coefficients ``[B, n_mfcc, frames]``.

    Orthonormal DCT-II of the log mel spectrogram. With ``log="db"`` (default: ``power_to_db`` with
    ``top_db=80``, per item) this is ``librosa.feature.mfcc`` for the same STFT/mel settings; ``log="log"``
    uses ``log(mel + eps)`` instead. ``lifter > 0`` applies librosa's sinusoidal liftering.
    """

    name = "mfcc"

    def __init__(
        self,
        *,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_mfcc: int = 20,
        n_fft: int = 512,
        win_length: int | None = 400,
        hop_length: int = 160,
        window: str = "hann",
        periodic_window: bool = True,
        center: bool = True,
        pad_mode: str = "constant",
        n_mels: int = 40,
        f_min: float = 0.0,
        f_max: float | None = None,
        mel_scale: str = "slaney",
        norm: str | None = "slaney",
        log: str = "db",
        eps: float = 1e-6,
        top_db: float | None = 80.0,
        lifter: float = 0.0,
    ) -> None:
        mel_settings = dict(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length, window=window,
            periodic_window=periodic_window, center=center, pad_mode=pad_mode, n_mels=n_mels, f_min=f_min,
            f_max=f_max, mel_scale=mel_scale, norm=norm,
        )  # fmt: skip
        super().__init__(**mel_settings, n_mfcc=n_mfcc, log=log, eps=eps, top_db=top_db, lifter=lifter)
        _check_choice("log", log, ("log", "log10", "db"))
        if lifter < 0:
            raise ValueError(f"lifter must be >= 0, got {lifter}")
        self.mel = MelSpectrogram(**mel_settings, power=2.0, log=log, eps=eps, top_db=top_db)
        dct = filters.dct_matrix(n_mfcc, n_mels)
        if lifter > 0:
            dct = dct * filters.lifter_weights(n_mfcc, lifter)[:, None]
        _register_constant(self, "dct", dct)
        self.n_features = n_mfcc

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        return self.mel.num_frames(n_samples)

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        log_mel = self.mel(waveform)
        return torch.matmul(self.dct.to(log_mel.dtype), log_mel)


class Deltas(nn.Module):
    """Regression deltas along the last (time) axis of ``[..., frames]``; same shape out.

    ``order=1`` is the least-squares slope over ``width`` frames, ``order=2`` the curvature of a quadratic
    fit: ``librosa.feature.delta(x, width, order, mode)`` (a Savitzky-Golay derivative). ``mode`` handles
    the edges as scipy does: "interp" (fit the first/last full window; needs ``frames >= width``),
    "nearest" (repeat the edge frame), "mirror" (reflect without repeating it), "wrap", "constant" (zeros).
    ``normalize=False`` (order 1) omits the ``sum k^2`` denominator, which is the ASVspoof MATLAB form.
    """

    def __init__(self, width: int = 9, order: int = 1, mode: str = "interp", normalize: bool = True) -> None:
        super().__init__()
        _check_choice("delta mode", mode, DELTA_MODES)
        kernels = filters.delta_kernels(width, order, normalize=normalize)
        self.width, self.order, self.mode, self.normalize = width, order, mode, normalize
        _register_constant(self, "kernel", kernels.interior.reshape(1, 1, -1))
        _register_constant(self, "left", kernels.left)
        _register_constant(self, "right", kernels.right)

    def config(self) -> dict[str, Any]:
        """Constructor settings (``Deltas(**config())`` rebuilds it)."""
        return {"width": self.width, "order": self.order, "mode": self.mode, "normalize": self.normalize}

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.config().items())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        frames = features.shape[-1]
        half = self.width // 2
        flat = features.reshape(-1, 1, frames)
        if self.mode == "interp":
            if frames < self.width:
                raise ValueError(
                    f"delta mode 'interp' needs at least width={self.width} frames, got {frames}; "
                    "use a shorter width or mode='nearest'"
                )
            middle = self._correlate(flat[:, 0])
            left = flat[:, 0, : self.width] @ self.left.to(features.dtype).T
            right = flat[:, 0, -self.width :] @ self.right.to(features.dtype).T
            out = torch.cat([left, middle, right], dim=-1)
        else:
            pad_mode = DELTA_MODES[self.mode]
            if pad_mode == "reflect" and frames <= half:
                raise ValueError(f"delta mode 'mirror' needs more than {half} frames, got {frames}")
            padded = F.pad(flat, (half, half), mode=pad_mode)
            out = self._correlate(padded[:, 0])
        return out.reshape(features.shape)

    def _correlate(self, rows: torch.Tensor) -> torch.Tensor:
        """``conv1d(rows, kernel)`` ("valid") as a sum of shifted rows: with a handful of taps over many
        single-channel rows this is 2-3x faster than conv1d on CPU (benchmarks/bench_features.py)."""
        n_out = rows.shape[-1] - self.width + 1
        taps = self.kernel.reshape(-1).tolist()
        out = torch.zeros(*rows.shape[:-1], n_out, dtype=rows.dtype, device=rows.device)
        for offset, tap in enumerate(taps):
            if tap != 0.0:
                out.add_(rows[..., offset : offset + n_out], alpha=tap)
        return out


class LFCC(FeatureModule):
    """Linear-frequency cepstral coefficients; by default the ASVspoof 2019/2021 LA baseline front-end.

    Pipeline (defaults): pre-emphasis ``y[t] = x[t] - 0.97 x[t-1]``; 20 ms Hamming window (320 samples,
    periodic, centred in a 512-point FFT) every 10 ms; power spectrum; 20 triangular filters with peak 1
    and edges evenly spaced over 0..8 kHz (MATLAB ``trimf``); ``log10(x + eps)`` with eps = float32 eps;
    orthonormal DCT-II keeping 20 coefficients (c0 included); then Δ and ΔΔ, each ``x[t+1] - x[t-1]`` with
    the edge frames repeated (``deltas(x, 3)`` of the MATLAB code, ΔΔ = Δ of Δ). Output
    ``[B, 60, frames]`` = static, Δ, ΔΔ stacked on the feature axis.

    Sources: the 2019 baseline ``extract_lfcc(x, fs, 20, 512, 20)`` (Sahidullah et al., Interspeech 2015)
    and the PyTorch port in the 2021 LFCC-LCNN baseline. Where the two differ we follow the PyTorch port:
    frames are centred with zero padding (``center=True``; MATLAB's ``buffer(..., 'nodelay')`` does not
    centre) and the Hamming window is periodic (MATLAB's is symmetric: ``periodic_window=False``).
    """

    name = "lfcc"

    def __init__(
        self,
        *,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        n_lfcc: int = 20,
        n_filters: int = 20,
        n_fft: int = 512,
        win_length: int | None = 320,
        hop_length: int = 160,
        window: str = "hamming",
        periodic_window: bool = True,
        center: bool = True,
        pad_mode: str = "constant",
        pre_emphasis: float = 0.97,
        f_min: float = 0.0,
        f_max: float | None = None,
        log: str = "log10",
        eps: float = float(torch.finfo(torch.float32).eps),
        with_deltas: bool = True,
        delta_width: int = 3,
        delta_mode: str = "nearest",
        delta_normalize: bool = False,
    ) -> None:
        stft_settings = dict(
            sample_rate=sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length, window=window,
            periodic_window=periodic_window, center=center, pad_mode=pad_mode, pre_emphasis=pre_emphasis,
        )  # fmt: skip
        super().__init__(
            **stft_settings, n_lfcc=n_lfcc, n_filters=n_filters, f_min=f_min, f_max=f_max, log=log, eps=eps,
            with_deltas=with_deltas, delta_width=delta_width, delta_mode=delta_mode,
            delta_normalize=delta_normalize,
        )  # fmt: skip
        _check_choice("log", log, ("log", "log10"))
        self.spectrogram = Spectrogram(**stft_settings, power=2.0)
        fbank = filters.linear_filterbank(sample_rate, n_fft, n_filters, f_min=f_min, f_max=f_max)
        _register_constant(self, "filterbank", fbank)
        _register_constant(self, "dct", filters.dct_matrix(n_lfcc, n_filters))
        self.deltas = Deltas(delta_width, 1, delta_mode, delta_normalize) if with_deltas else None
        self.log, self.eps = log, eps
        self.n_features = n_lfcc * (3 if with_deltas else 1)

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        return self.spectrogram.num_frames(n_samples)

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.cepstra(self.band_energies(waveform))

    def band_energies(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> linear filterbank energies ``[B, n_filters, frames]`` (before the log).

        Linear in the signal's power: scaling the waveform by ``g`` scales them by ``g**2``.
        """
        spec = self.spectrogram.linear_spectrogram(waveform)
        return torch.matmul(self.filterbank.to(spec.dtype), spec)

    def cepstra(self, bands: torch.Tensor) -> torch.Tensor:
        """Filterbank energies ``[B, n_filters, frames]`` -> LFCC (+ deltas) ``[B, n_features, frames]``."""
        static = torch.matmul(self.dct.to(bands.dtype), compress(bands, self.log, eps=self.eps))
        if self.deltas is None:
            return static
        delta = self.deltas(static)
        return torch.cat([static, delta, self.deltas(delta)], dim=-2)

    def window_band_energies(self, strip: torch.Tensor, window: int, hop: int) -> torch.Tensor:
        """:meth:`band_energies` of every ``window``-sample window of ``strip [T]`` every ``hop`` samples,
        ``[n, n_filters, frames]``, with each STFT frame computed once instead of once per window.

        The same numbers as ``band_energies(strip.unfold(0, window, hop))`` (to float rounding): a
        window's frames are the strip's frames at its offset, except the few at each window edge whose
        FFT span reaches past it (padding, and pre-emphasis of the first sample there); those are
        recomputed from the window's own edge samples. With 50% overlap this halves the STFT work.
        """
        sp = self.spectrogram
        n_fft, frame_hop = sp.n_fft, sp.hop_length
        n_windows = 1 + (strip.shape[-1] - window) // hop
        # Frames whose span [centre - n_fft/2, centre + n_fft/2] touches the window's first sample or
        # goes past its end; pre-emphasis makes the first sample differ from the strip's.
        n_left = -(-(n_fft // 2 + 1) // frame_hop)
        n_frames = sp.num_frames(window)
        n_right = n_frames - (window - n_fft // 2) // frame_hop
        tail_frames = n_right + -(-n_fft // frame_hop) + 1  # enough that the tail's own left edge is unused
        head_len = n_left * frame_hop + n_fft
        tail_start = (window // frame_hop - tail_frames) * frame_hop
        if not sp.center or hop % frame_hop or head_len > window or tail_start < 0:
            return self.band_energies(strip.unfold(-1, window, hop))  # framing cannot be shared
        bands = self.band_energies(strip.unsqueeze(0))[0]  # [n_filters, all frames]
        step = hop // frame_hop
        per_window = bands.unfold(-1, n_frames, step)[:, :n_windows].transpose(0, 1).clone()
        windows = strip.unfold(-1, window, hop)
        per_window[..., :n_left] = self.band_energies(windows[:, :head_len])[..., :n_left]
        per_window[..., n_frames - n_right :] = self.band_energies(windows[:, tail_start:])[..., -n_right:]
        return per_window


def fft_downsample(waveform: torch.Tensor, factor: int) -> torch.Tensor:
    """Band-limited downsampling ``[B, T] -> [B, ceil(T / factor)]`` by truncating the spectrum.

    The same arithmetic as ``scipy.signal.resample`` (what ``librosa.resample(res_type="fft")`` calls),
    followed by librosa's ``scale=True`` gain of ``sqrt(factor)``. The signal is treated as periodic.
    """
    n_in = waveform.shape[-1]
    n_out = math.ceil(n_in / factor)
    spectrum = torch.fft.rfft(waveform)[..., : n_out // 2 + 1]
    if n_out % 2 == 0 and n_out != n_in:
        # The unpaired bin at the new Nyquist frequency gathers the energy of its +/- pair.
        gain = torch.ones(spectrum.shape[-1], dtype=waveform.dtype, device=waveform.device)
        gain[-1] = 2.0
        spectrum = spectrum * gain
    return torch.fft.irfft(spectrum * (n_out / n_in), n=n_out) * math.sqrt(factor)


class CQT(FeatureModule):
    """Constant-Q magnitude ``[B, n_bins, frames]`` (``power=1``; ``power=2`` for power), then ``log``.

    The transform is ``librosa.cqt``'s multi-rate algorithm (scale=True, norm=1, Hann wavelets, tuning 0),
    with dense filters (librosa's ``sparsity=0``) and ``librosa.resample(res_type="fft")`` band-limited
    halving between octaves (``fft_downsample``); halving happens while the hop stays even, as in librosa.
    It matches ``np.abs(librosa.cqt(..., sparsity=0, res_type="fft"))`` to ~1e-5 of the peak and librosa's
    default (soxr resampling, 1% sparsity) to ~1e-2 of the peak; see tests/features/test_cqt.py.
    Defaults: 84 bins, 12 per octave, from C1 (32.7 Hz) to B7 (3951 Hz), hop 10 ms at 16 kHz.
    """

    name = "cqt"

    def __init__(
        self,
        *,
        sample_rate: int = DEFAULT_SAMPLE_RATE,
        hop_length: int = 160,
        f_min: float = 32.70319566257483,
        n_bins: int = 84,
        bins_per_octave: int = 12,
        filter_scale: float = 1.0,
        window: str = "hann",
        pad_mode: str = "constant",
        power: float = 1.0,
        log: str | None = "log",
        eps: float = 1e-6,
        amin: float | None = None,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__(
            sample_rate=sample_rate, hop_length=hop_length, f_min=f_min, n_bins=n_bins,
            bins_per_octave=bins_per_octave, filter_scale=filter_scale, window=window, pad_mode=pad_mode,
            power=power, log=log, eps=eps, amin=amin, top_db=top_db,
        )  # fmt: skip
        _check_choice("pad_mode", pad_mode, PAD_MODES)
        _check_choice("log", log, LOG_KINDS)
        if power not in (1.0, 2.0):
            raise ValueError(f"CQT power must be 1 (magnitude) or 2 (power), got {power}")
        self.plan = filters.cqt_plan(
            sample_rate, hop_length, f_min, n_bins, bins_per_octave,
            filter_scale=filter_scale, window_name=window,
        )  # fmt: skip
        for i, octave in enumerate(self.plan.octaves):
            _register_constant(self, f"basis_real_{i}", octave.basis.real)
            _register_constant(self, f"basis_imag_{i}", octave.basis.imag)
        _register_constant(self, "length_scale", self.plan.length_scale[:, None])
        self.pad_mode, self.power, self.log = pad_mode, power, log
        self.eps, self.amin, self.top_db = eps, amin, top_db
        self.n_features = n_bins

    @property
    def frequencies(self) -> torch.Tensor:
        """Centre frequency of each bin in Hz, ascending."""
        return torch.as_tensor(self.plan.frequencies)

    def num_frames(self, n_samples: int) -> int:
        """Frames produced for a waveform of ``n_samples`` samples."""
        n = math.ceil(n_samples / self.plan.early_downsample)
        counts = []
        for octave in self.plan.octaves:
            counts.append(1 + n // octave.hop_length)
            if octave.downsample_after:
                n = math.ceil(n / 2)
        return min(counts)

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        signal = waveform
        if self.plan.early_downsample > 1:
            signal = fft_downsample(signal, self.plan.early_downsample)
        responses = []
        for i, octave in enumerate(self.plan.octaves):
            stft = torch.stft(
                signal,
                n_fft=octave.n_fft,
                hop_length=octave.hop_length,
                window=torch.ones(octave.n_fft, dtype=signal.dtype, device=signal.device),
                center=True,
                pad_mode=self.pad_mode,
                return_complex=True,
            )
            real = getattr(self, f"basis_real_{i}").to(signal.dtype)
            imag = getattr(self, f"basis_imag_{i}").to(signal.dtype)
            responses.append(torch.matmul(torch.complex(real, imag), stft))
            if octave.downsample_after:
                signal = fft_downsample(signal, 2)
        frames = min(r.shape[-1] for r in responses)
        cqt = torch.cat([r[..., :frames] for r in reversed(responses)], dim=-2)
        magnitude = cqt.abs() / self.length_scale.to(waveform.dtype)
        spec = magnitude if self.power == 1.0 else magnitude.pow(2)
        return compress(spec, self.log, eps=self.eps, power=self.power, amin=self.amin, top_db=self.top_db)
