"""RawBoost: data boosting on raw waveforms (Tak, Kamble, Patino, Todisco, Evans, ICASSP 2022,
arXiv:2111.04433), written from the paper's description and the parameter list of the authors'
reference repository (TakHemlata/RawBoost-antispoofing); no code is taken from it.

Three distortions, usable alone or in series:

1. :class:`LnLConvolutiveNoise` (linear and non-linear convolutive noise): a sum over orders
   j = 1..``n_f`` of FIR-filtered powers of the input, ``y = sum_j h_j * x**j``. Each ``h_j`` is a
   cascade of ``n_bands`` band-stop (notch) FIR filters with random centre in ``centre_hz``, width in
   ``bandwidth_hz`` and (odd) length in ``n_coeffs``, normalised to a peak gain drawn in ``gain_db``.
   The non-linear terms (j >= 2) are ``nonlinear_bias_db`` (drawn per term) below the linear one.
   Models transmission channels and the non-linearity of real microphones and amplifiers.
2. :class:`ISDAdditiveNoise` (impulsive signal-dependent noise): up to ``max_percent`` % of the samples
   (the share drawn in [0, max_percent]) are picked at random and get ``x[i] * g_sd * r`` added, with
   ``r`` the product of two uniform [-1, 1] draws: clicks and overload artefacts.
3. :class:`SSIAdditiveNoise` (stationary signal-independent noise): white Gaussian noise coloured by a
   random notch-filter cascade as above, added at an SNR drawn in ``snr_db``.

Defaults are the authors' (and the ASVspoof 2021 systems built on them): n_bands 5, centre 20-8000 Hz,
bandwidth 100-1000 Hz, 10-100 coefficients, linear gain 0 dB, non-linear bias 5-20 dB, n_f 5;
max_percent 10, g_sd 2; SNR 10-40 dB. :class:`RawBoost` chains them by ``algo`` number (paper/repo
numbering); the presets the authors report best are ``"la"`` = algo 5 (1 then 2, ASVspoof 2021 LA) and
``"df"`` = algo 3 (SSI only, ASVspoof 2021 DF).

Filtering uses linear-phase FIRs of odd length applied with ``mode="same"``, so nothing is delayed.
Frequencies above Nyquist are clipped to it, so the 8000 Hz default also suits 16 kHz audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from unmask.train.augment.base import (
    Augmentation,
    AugmentationConfigError,
    as_range,
    check_sample_rate,
    peak_limit,
    power,
    uniform,
)


@dataclass
class NotchFilterBank:
    """Random cascades of band-stop FIR filters, the building block of RawBoost algorithms 1 and 3."""

    n_bands: int = 5
    centre_hz: tuple[float, float] = (20.0, 8000.0)
    bandwidth_hz: tuple[float, float] = (100.0, 1000.0)
    n_coeffs: tuple[float, float] = (10, 100)
    gain_db: tuple[float, float] = (0.0, 0.0)
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if int(self.n_bands) != self.n_bands or self.n_bands < 1:
            raise AugmentationConfigError(f"n_bands must be a positive integer, got {self.n_bands!r}")
        self.n_bands = int(self.n_bands)
        self.centre_hz = as_range(self.centre_hz, "centre_hz", low=0.0)
        self.bandwidth_hz = as_range(self.bandwidth_hz, "bandwidth_hz", low=0.0)
        self.n_coeffs = as_range(self.n_coeffs, "n_coeffs", low=1, high=10000)
        self.gain_db = as_range(self.gain_db, "gain_db", low=-120.0, high=60.0)
        self.sample_rate = check_sample_rate(self.sample_rate)

    def draw(self, rng: np.random.Generator, gain_offset_db: float = 0.0) -> np.ndarray:
        """One random filter (odd-length, linear-phase taps), peak magnitude ``gain_db + gain_offset_db``."""
        nyquist = self.sample_rate / 2
        taps = np.ones(1)
        for _ in range(self.n_bands):
            centre, width = uniform(rng, self.centre_hz), uniform(rng, self.bandwidth_hz)
            n = int(rng.integers(int(self.n_coeffs[0]), int(self.n_coeffs[1]) + 1))
            n += 1 - n % 2  # a band-stop FIR needs an odd length (and odd keeps the delay whole)
            low = min(max(centre - width / 2, 1e-3), nyquist - 2e-3)
            high = min(max(centre + width / 2, low + 1e-3), nyquist - 1e-3)
            band = signal.firwin(n, [low, high], window="hamming", fs=self.sample_rate)  # band-stop
            taps = np.convolve(taps, band)
        _, response = signal.freqz(taps, worN=1024)
        gain = 10.0 ** ((uniform(rng, self.gain_db) + gain_offset_db) / 20.0)
        return gain * taps / max(float(np.max(np.abs(response))), 1e-12)


def _filter(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    # Odd-length linear-phase taps with mode="same": the output lines up with the input.
    return signal.oaconvolve(x, taps, mode="same")


_BANK_FIELDS = ("n_bands", "centre_hz", "bandwidth_hz", "n_coeffs", "gain_db", "sample_rate")


def _bank_for(owner: Augmentation) -> NotchFilterBank:
    """A filter bank validated from ``owner``'s settings, which get the validated values back."""
    bank = NotchFilterBank(**{name: getattr(owner, name) for name in _BANK_FIELDS})
    for name in _BANK_FIELDS:
        setattr(owner, name, getattr(bank, name))
    return bank


@dataclass
class LnLConvolutiveNoise(Augmentation):
    """RawBoost algorithm 1: linear and non-linear convolutive noise (see the module docstring)."""

    n_f: int = 5
    n_bands: int = 5
    centre_hz: tuple[float, float] = (20.0, 8000.0)
    bandwidth_hz: tuple[float, float] = (100.0, 1000.0)
    n_coeffs: tuple[float, float] = (10, 100)
    gain_db: tuple[float, float] = (0.0, 0.0)
    nonlinear_bias_db: tuple[float, float] = (5.0, 20.0)
    sample_rate: int = 16000
    _filters: NotchFilterBank = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if int(self.n_f) != self.n_f or self.n_f < 1:
            raise AugmentationConfigError(f"n_f must be a positive integer, got {self.n_f!r}")
        self.nonlinear_bias_db = as_range(self.nonlinear_bias_db, "nonlinear_bias_db", low=0.0)
        self._filters = _bank_for(self)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        y = np.zeros_like(x)
        for order in range(1, int(self.n_f) + 1):
            offset = 0.0 if order == 1 else -uniform(rng, self.nonlinear_bias_db)
            y += _filter(x**order, self._filters.draw(rng, offset))
        return peak_limit(y - y.mean())


@dataclass
class ISDAdditiveNoise(Augmentation):
    """RawBoost algorithm 2: impulsive signal-dependent additive noise (see the module docstring)."""

    max_percent: float = 10.0
    g_sd: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_percent <= 100.0:
            raise AugmentationConfigError(f"max_percent must be within [0, 100], got {self.max_percent!r}")
        if self.g_sd <= 0:
            raise AugmentationConfigError(f"g_sd must be > 0, got {self.g_sd!r}")

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        share = rng.uniform(0.0, self.max_percent) / 100.0
        picked = rng.choice(x.shape[0], size=int(x.shape[0] * share), replace=False)
        factors = rng.uniform(-1.0, 1.0, picked.shape[0]) * rng.uniform(-1.0, 1.0, picked.shape[0])
        y = x.copy()
        y[picked] += self.g_sd * x[picked] * factors
        return y


@dataclass
class SSIAdditiveNoise(Augmentation):
    """RawBoost algorithm 3: stationary signal-independent (coloured) additive noise."""

    snr_db: tuple[float, float] = (10.0, 40.0)
    n_bands: int = 5
    centre_hz: tuple[float, float] = (20.0, 8000.0)
    bandwidth_hz: tuple[float, float] = (100.0, 1000.0)
    n_coeffs: tuple[float, float] = (10, 100)
    gain_db: tuple[float, float] = (0.0, 0.0)
    sample_rate: int = 16000
    _filters: NotchFilterBank = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.snr_db = as_range(self.snr_db, "snr_db", low=-30.0, high=120.0)
        self._filters = _bank_for(self)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = _filter(rng.standard_normal(x.shape[0]), self._filters.draw(rng))
        signal_power, noise_power = power(x), power(noise)
        if signal_power == 0.0 or noise_power == 0.0:
            return x  # an SNR against silence is undefined
        snr = uniform(rng, self.snr_db)
        return x + noise * np.sqrt(signal_power / (noise_power * 10.0 ** (snr / 10.0)))


#: RawBoost algorithm numbers (as in the paper's repository) -> the steps they run, and how.
RAWBOOST_ALGOS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("series", ("lnl",)),
    2: ("series", ("isd",)),
    3: ("series", ("ssi",)),
    4: ("series", ("lnl", "isd", "ssi")),
    5: ("series", ("lnl", "isd")),
    6: ("series", ("lnl", "ssi")),
    7: ("series", ("isd", "ssi")),
    8: ("parallel", ("lnl", "isd")),
}
RAWBOOST_PRESETS = {"la": 5, "df": 3}


@dataclass
class RawBoost(Augmentation):
    """RawBoost by algorithm number 1-8 or preset (``"la"`` = 5, ``"df"`` = 3), with each step's settings.

    ``lnl``, ``isd`` and ``ssi`` are keyword dicts for :class:`LnLConvolutiveNoise`,
    :class:`ISDAdditiveNoise` and :class:`SSIAdditiveNoise` (defaults: the paper's). Algorithm 8 runs
    1 and 2 on the input separately and adds the results ("parallel"), as the reference does.
    """

    algo: int | str = "la"
    lnl: dict | None = None
    isd: dict | None = None
    ssi: dict | None = None
    sample_rate: int = 16000
    _steps: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        algo = RAWBOOST_PRESETS.get(str(self.algo).lower(), self.algo)
        if algo not in RAWBOOST_ALGOS:
            raise AugmentationConfigError(
                f"RawBoost: unknown algo {self.algo!r}; use 1-8 or one of {list(RAWBOOST_PRESETS)}")
        self.algo = algo
        self.sample_rate = check_sample_rate(self.sample_rate)
        self._steps = {
            "lnl": LnLConvolutiveNoise(**{"sample_rate": self.sample_rate, **(self.lnl or {})}),
            "isd": ISDAdditiveNoise(**(self.isd or {})),
            "ssi": SSIAdditiveNoise(**{"sample_rate": self.sample_rate, **(self.ssi or {})}),
        }

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        how, names = RAWBOOST_ALGOS[self.algo]
        if how == "parallel":
            return sum(self._steps[name].apply(x, rng) for name in names)
        for name in names:
            x = peak_limit(self._steps[name].apply(x, rng))
        return x
