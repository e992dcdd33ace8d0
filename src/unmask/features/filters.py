"""Fixed matrices the spectral modules apply: windows, mel/linear filterbanks, DCT, delta and CQT kernels.

Everything here is plain numpy (float64), built once when a module is constructed and then stored as a
registered buffer, so the forward pass is pure torch. The formulas follow the published definitions that
librosa also implements (Slaney's Auditory Toolbox mel scale, HTK's mel scale, orthonormal DCT-II,
Savitzky-Golay deltas, Brown's constant-Q wavelets); librosa itself is only used by the tests to check them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

MEL_SCALES = ("slaney", "htk")
MEL_NORMS = ("slaney", None)

# Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
_SLANEY_HZ_PER_MEL = 200.0 / 3
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def window(name: str, win_length: int, n_fft: int, *, periodic: bool = True) -> np.ndarray:
    """A ``win_length`` analysis window (any scipy.signal.get_window name) zero-padded to ``n_fft``, centred.

    ``periodic=True`` is the FFT-friendly form librosa and torch use by default; ``False`` gives the
    symmetric form (MATLAB's ``hamming(N)``).
    """
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length={win_length} must be in 1..n_fft={n_fft}")
    if name in ("ones", "rectangular", "boxcar"):
        win = np.ones(win_length)
    else:
        win = scipy.signal.get_window(name, win_length, fftbins=periodic)
    left = (n_fft - win_length) // 2
    return np.pad(win, (left, n_fft - win_length - left))


def hz_to_mel(freqs: np.ndarray | float, *, scale: str = "slaney") -> np.ndarray:
    """Hertz to mels on the Slaney (librosa default) or HTK scale."""
    freqs = np.asarray(freqs, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + freqs / 700.0)
    _check_choice("mel scale", scale, MEL_SCALES)
    mels = freqs / _SLANEY_HZ_PER_MEL
    above = freqs >= _SLANEY_BREAK_HZ
    octaves_above = np.log(np.maximum(freqs, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ)
    log_part = _SLANEY_BREAK_MEL + octaves_above / _SLANEY_LOG_STEP
    return np.where(above, log_part, mels)


def mel_to_hz(mels: np.ndarray | float, *, scale: str = "slaney") -> np.ndarray:
    """Mels back to Hertz (inverse of :func:`hz_to_mel`)."""
    mels = np.asarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    _check_choice("mel scale", scale, MEL_SCALES)
    linear = mels * _SLANEY_HZ_PER_MEL
    log_part = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (mels - _SLANEY_BREAK_MEL))
    return np.where(mels >= _SLANEY_BREAK_MEL, log_part, linear)


def fft_frequencies(sample_rate: float, n_fft: int) -> np.ndarray:
    """Centre frequency in Hz of each one-sided FFT bin."""
    return np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)


def _triangles(bin_freqs: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Triangles rising from ``edges[i]`` to a peak of 1 at ``edges[i+1]`` and falling to ``edges[i+2]``."""
    widths = np.diff(edges)
    ramps = edges[:, None] - bin_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    return np.maximum(0.0, np.minimum(lower, upper))


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int,
    *,
    f_min: float = 0.0,
    f_max: float | None = None,
    scale: str = "slaney",
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters ``[n_mels, n_fft//2 + 1]``, the same definition as ``librosa.filters.mel``.

    ``norm="slaney"`` divides each triangle by its width in Hz (constant energy per band), ``None`` leaves
    peaks at 1.
    """
    _check_choice("mel norm", norm, MEL_NORMS)
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    _check_band(f_min, f_max, sample_rate)
    mel_edges = np.linspace(hz_to_mel(f_min, scale=scale), hz_to_mel(f_max, scale=scale), n_mels + 2)
    hz_edges = mel_to_hz(mel_edges, scale=scale)
    weights = _triangles(fft_frequencies(sample_rate, n_fft), hz_edges)
    if norm == "slaney":
        weights *= (2.0 / (hz_edges[2:] - hz_edges[:-2]))[:, None]
    return weights


def linear_filterbank(
    sample_rate: float, n_fft: int, n_filters: int, *, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Equally spaced triangular filters with peak 1 ``[n_filters, n_fft//2 + 1]`` (MATLAB ``trimf``).

    This is the filterbank of the ASVspoof LFCC baseline: ``n_filters + 2`` edges evenly spaced over
    ``[f_min, f_max]``, no area normalisation.
    """
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    _check_band(f_min, f_max, sample_rate)
    edges = np.linspace(f_min, f_max, n_filters + 2)
    return _triangles(fft_frequencies(sample_rate, n_fft), edges)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``[n_out, n_in]``.

    ``dct_matrix(k, n) @ x == scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:k]``.
    """
    if not 0 < n_out <= n_in:
        raise ValueError(f"cannot keep {n_out} DCT coefficients out of {n_in} inputs")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    return basis


def lifter_weights(n_coeffs: int, lifter: float) -> np.ndarray:
    """Sinusoidal cepstral liftering weights ``1 + (L/2) sin(pi (n+1) / L)`` (as librosa.feature.mfcc)."""
    n = np.arange(1, n_coeffs + 1)
    return 1.0 + (lifter / 2.0) * np.sin(np.pi * n / lifter)


@dataclass(frozen=True)
class DeltaKernels:
    """Linear maps of a delta filter: ``interior`` for full windows, ``left``/``right`` for 'interp' edges."""

    interior: np.ndarray  # [width], correlation weights over offsets -h..h
    left: np.ndarray  # [h, width], outputs 0..h-1 from the first `width` inputs
    right: np.ndarray  # [h, width], last h outputs from the last `width` inputs


def _poly_derivative_row(positions: np.ndarray, order: int) -> np.ndarray:
    """Weights mapping samples at ``positions`` to the ``order``-th derivative of their LS polynomial fit.

    The fit has degree ``order`` (as a Savitzky-Golay filter with polyorder = deriv = ``order``), so that
    derivative is the constant ``order! * a_order`` anywhere in the window; this also gives scipy's
    'interp' edge mode, which evaluates the fit of the first/last full window near the edges.
    """
    design = positions[:, None].astype(np.float64) ** np.arange(order + 1)[None, :]
    fit = np.linalg.pinv(design)  # [order+1, n_positions]: samples -> polynomial coefficients
    return math.factorial(order) * fit[order]


def delta_kernels(width: int, order: int, *, normalize: bool = True) -> DeltaKernels:
    """Kernels of a ``width``-point regression delta of the given ``order`` (1 = slope, 2 = curvature).

    ``normalize=True`` matches ``librosa.feature.delta`` (a Savitzky-Golay derivative, per frame).
    ``normalize=False`` (order 1 only) drops the ``sum k^2`` denominator, giving ``sum_k k * x[t+k]``:
    the form of the ``deltas.m`` used by the ASVspoof MATLAB baselines (``x[t+1] - x[t-1]`` for width 3).
    """
    if width < 3 or width % 2 == 0:
        raise ValueError(f"delta width must be an odd integer >= 3, got {width}")
    if order not in (1, 2):
        raise ValueError(f"delta order must be 1 or 2, got {order}")
    if not normalize and order != 1:
        raise ValueError("normalize=False is only defined for order=1 deltas")
    half = width // 2
    offsets = np.arange(-half, half + 1)
    interior = _poly_derivative_row(offsets, order)
    # A degree-`order` fit has a constant `order`-th derivative, so every edge output of a window is the same.
    edge = np.tile(_poly_derivative_row(np.arange(width), order), (half, 1))
    left, right = edge, edge.copy()
    if not normalize:
        gain = float(np.sum(offsets.astype(np.float64) ** 2))
        interior, left, right = interior * gain, left * gain, right * gain
    return DeltaKernels(interior=interior, left=left, right=right)


# ---------------------------------------------------------------- constant-Q


@dataclass(frozen=True)
class CQTOctave:
    """One octave of a constant-Q transform, computed at ``sample_rate`` with an STFT of ``n_fft``/hop."""

    sample_rate: float
    hop_length: int
    n_fft: int
    basis: np.ndarray  # complex [bins_in_octave, n_fft//2 + 1], applied to a rectangular-window STFT
    downsample_after: bool  # halve the rate before the next (lower) octave


@dataclass(frozen=True)
class CQTPlan:
    """Everything a constant-Q forward pass needs, precomputed (see :func:`cqt_plan`)."""

    frequencies: np.ndarray  # [n_bins] centre frequencies, ascending
    early_downsample: int  # factor (power of 2) the input is downsampled by before the first octave
    octaves: tuple[CQTOctave, ...]  # highest octave first
    length_scale: np.ndarray  # [n_bins] divide the response by this (sqrt of the filter lengths)


def cqt_frequencies(f_min: float, n_bins: int, bins_per_octave: int) -> np.ndarray:
    """Geometrically spaced centre frequencies ``f_min * 2**(k / bins_per_octave)``."""
    return f_min * 2.0 ** (np.arange(n_bins) / bins_per_octave)


def _relative_bandwidth(freqs: np.ndarray) -> np.ndarray:
    """Relative bandwidth (alpha) of each filter from its neighbours' log-spacing."""
    logf = np.log2(freqs)
    bpo = np.empty_like(freqs)
    bpo[0] = 1.0 / (logf[1] - logf[0])
    bpo[-1] = 1.0 / (logf[-1] - logf[-2])
    bpo[1:-1] = 2.0 / (logf[2:] - logf[:-2])
    return (2.0 ** (2.0 / bpo) - 1.0) / (2.0 ** (2.0 / bpo) + 1.0)


def _window_bandwidth(name: str, n: int = 1000) -> float:
    """Equivalent noise bandwidth of a window in bins (1.5 for Hann)."""
    win = scipy.signal.get_window(name, n, fftbins=True)
    return float(n * np.sum(win**2) / np.sum(win) ** 2)


def _wavelet_basis(
    freqs: np.ndarray, lengths: np.ndarray, sample_rate: float, window_name: str
) -> np.ndarray:
    """L1-normalised windowed complex exponentials, centred and zero-padded to the next power of two."""
    rows = []
    for length, freq in zip(lengths, freqs, strict=True):
        # Same sample grid as librosa: t in [floor(-L/2), floor(L/2)), i.e. ceil(L) samples.
        t = np.arange(-length // 2, length // 2, dtype=np.float64)
        atom = np.exp(1j * 2.0 * np.pi * freq / sample_rate * t)
        atom = atom * scipy.signal.get_window(window_name, len(atom), fftbins=True)
        rows.append(atom / np.sum(np.abs(atom)))
    n_fft = int(2.0 ** np.ceil(np.log2(np.max(lengths))))
    basis = np.zeros((len(rows), n_fft), dtype=np.complex128)
    for i, atom in enumerate(rows):
        left = (n_fft - len(atom)) // 2
        basis[i, left : left + len(atom)] = atom
    return basis


def _two_factors(value: int) -> int:
    count = 0
    while value > 0 and value % 2 == 0:
        value //= 2
        count += 1
    return count


def cqt_plan(
    sample_rate: float,
    hop_length: int,
    f_min: float,
    n_bins: int,
    bins_per_octave: int,
    *,
    filter_scale: float = 1.0,
    window_name: str = "hann",
) -> CQTPlan:
    """Plan a multi-rate constant-Q transform with librosa.cqt's algorithm (librosa >= 0.10).

    Octaves are computed top-down: each octave's filters are applied, in the frequency domain, to a
    rectangular-window STFT whose length is the next power of two of its longest filter; then the signal
    is halved in rate (while the hop stays an integer) so the next octave's filters stay short. An optional
    early downsampling happens first when every filter sits far below Nyquist.
    """
    if n_bins < 2:
        raise ValueError(f"a CQT needs at least 2 bins, got n_bins={n_bins}")
    freqs = cqt_frequencies(f_min, n_bins, bins_per_octave)
    alpha = _relative_bandwidth(freqs)
    quality = filter_scale / alpha
    nyquist = sample_rate / 2.0
    cutoff = float(np.max(freqs * (1.0 + 0.5 * _window_bandwidth(window_name) / quality)))
    if cutoff > nyquist:
        raise ValueError(
            f"the highest CQT filter reaches {cutoff:.0f} Hz, above Nyquist ({nyquist:.0f} Hz) for "
            f"sample_rate={sample_rate}; lower f_min or n_bins"
        )
    n_octaves = int(np.ceil(n_bins / bins_per_octave))
    n_filters = min(bins_per_octave, n_bins)

    by_bandwidth = max(0, int(np.ceil(np.log2(nyquist / cutoff)) - 1) - 1)
    by_hop = max(0, _two_factors(hop_length) - n_octaves + 1)
    early = 2 ** min(by_bandwidth, by_hop)
    base_sr, base_hop = sample_rate / early, hop_length // early

    octaves = []
    my_sr, my_hop = base_sr, base_hop
    for i in range(n_octaves):
        sl = slice(-n_filters, None) if i == 0 else slice(-n_filters * (i + 1), -n_filters * i)
        oct_freqs, oct_alpha = freqs[sl], alpha[sl]
        oct_lengths = filter_scale / oct_alpha * my_sr / oct_freqs
        basis = _wavelet_basis(oct_freqs, oct_lengths, my_sr, window_name)
        n_fft = basis.shape[1]
        basis = basis * (oct_lengths[:, None] / n_fft)
        fft_basis = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        fft_basis *= math.sqrt(base_sr / my_sr)  # compensates the energy lost to downsampling
        halve = my_hop % 2 == 0
        last = i == n_octaves - 1
        octaves.append(CQTOctave(my_sr, my_hop, n_fft, fft_basis, downsample_after=halve and not last))
        if halve:
            my_hop //= 2
            my_sr /= 2.0
    lengths = quality * base_sr / freqs
    return CQTPlan(freqs, early, tuple(octaves), np.sqrt(lengths))


def _check_choice(what: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose one of {', '.join(map(repr, allowed))}")


def _check_band(f_min: float, f_max: float, sample_rate: float) -> None:
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0 + 1e-9:
        raise ValueError(
            f"need 0 <= f_min < f_max <= sample_rate/2, got f_min={f_min}, f_max={f_max}, "
            f"sample_rate={sample_rate}"
        )
