"""Channel transforms: loudness, band-limiting filters (incl. telephone band) and resampling chains.

A detector that sees every real clip at one loudness and bandwidth and every fake at another learns
the channel, not the generator; these transforms randomise that channel on both classes alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from unmask.signal.filters import zero_phase_filter
from unmask.signal.resample import resample, resample_round_trip
from unmask.train.augment.base import (
    Augmentation,
    AugmentationConfigError,
    as_choices,
    as_range,
    check_sample_rate,
    uniform,
)

__all__ = ["BAND_MODES", "BandLimit", "Gain", "Resample", "resample"]


@dataclass
class Gain(Augmentation):
    """Multiply by a random gain drawn uniformly in ``gain_db`` (dB).

    ``limit_peak=False`` (default) keeps the exact gain even past full scale, as the only transform
    allowed to; set it True to scale the result back to a peak of 1 when it goes over.
    """

    gain_db: tuple[float, float] = (-12.0, 6.0)
    limit_peak: bool = False

    def __post_init__(self) -> None:
        self.gain_db = as_range(self.gain_db, "gain_db", low=-120.0, high=60.0)
        self.limits_peak = bool(self.limit_peak)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x * 10.0 ** (uniform(rng, self.gain_db) / 20.0)


BAND_MODES = ("lowpass", "highpass", "telephone")


@dataclass
class BandLimit(Augmentation):
    """A random Butterworth filter, applied forwards and backwards (zero phase: nothing is delayed).

    One mode is drawn per call from ``modes``:

    * ``lowpass``: cut-off drawn in ``lowpass_hz`` (band-limited recordings, cheap microphones);
    * ``highpass``: cut-off drawn in ``highpass_hz`` (rumble filters, small loudspeakers);
    * ``telephone``: band-pass from ``telephone_low_hz`` to ``telephone_high_hz`` (the 300-3400 Hz
      narrow band of PSTN/G.711 calls).

    The filter order is an integer drawn in ``order`` (the forward-backward pass doubles the slope).
    Cut-offs are kept below 0.95 x Nyquist so a range written for 16 kHz still works at 8 kHz.
    """

    modes: tuple[str, ...] = BAND_MODES
    lowpass_hz: tuple[float, float] = (3400.0, 7500.0)
    highpass_hz: tuple[float, float] = (80.0, 400.0)
    telephone_low_hz: tuple[float, float] = (200.0, 400.0)
    telephone_high_hz: tuple[float, float] = (3200.0, 3600.0)
    order: tuple[float, float] = (4, 8)
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        self.modes = as_choices(self.modes, "modes")
        unknown = sorted(set(self.modes) - set(BAND_MODES))
        if unknown:
            raise AugmentationConfigError(f"BandLimit: unknown mode(s) {unknown}; choose from {BAND_MODES}")
        self.lowpass_hz = as_range(self.lowpass_hz, "lowpass_hz", low=1.0)
        self.highpass_hz = as_range(self.highpass_hz, "highpass_hz", low=1.0)
        self.telephone_low_hz = as_range(self.telephone_low_hz, "telephone_low_hz", low=1.0)
        self.telephone_high_hz = as_range(self.telephone_high_hz, "telephone_high_hz", low=1.0)
        self.order = as_range(self.order, "order", low=1, high=20)
        self.sample_rate = check_sample_rate(self.sample_rate)

    def _clamp(self, hz: float) -> float:
        return min(hz, 0.95 * self.sample_rate / 2)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mode = self.modes[rng.integers(len(self.modes))]
        order = int(rng.integers(int(self.order[0]), int(self.order[1]) + 1))
        if mode == "lowpass":
            sos = signal.butter(order, self._clamp(uniform(rng, self.lowpass_hz)), "lowpass",
                                fs=self.sample_rate, output="sos")
        elif mode == "highpass":
            sos = signal.butter(order, self._clamp(uniform(rng, self.highpass_hz)), "highpass",
                                fs=self.sample_rate, output="sos")
        else:
            low = self._clamp(uniform(rng, self.telephone_low_hz))
            high = self._clamp(uniform(rng, self.telephone_high_hz))
            if low >= high:
                raise AugmentationConfigError(
                    f"BandLimit: telephone band {low:.0f}-{high:.0f} Hz is empty at {self.sample_rate} Hz")
            # A band-pass design doubles the order; halve it so the slopes match the other modes.
            sos = signal.butter(max(1, order // 2), [low, high], "bandpass", fs=self.sample_rate,
                                output="sos")
        return zero_phase_filter(x, sos)


@dataclass
class Resample(Augmentation):
    """Resample down to a rate drawn from ``rates`` (Hz) and back: the band-limit of a low-rate source.

    Only rates below ``sample_rate`` are used (22.05 kHz matters for 44.1/48 kHz inputs, not 16 kHz);
    ``scipy.signal.resample_poly`` filters with a Kaiser window and keeps the signal in place.
    """

    rates: tuple[int, ...] = (8000, 11025, 12000, 22050)
    sample_rate: int = 16000
    _usable: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rates = tuple(int(r) for r in as_choices(self.rates, "rates"))
        self.sample_rate = check_sample_rate(self.sample_rate)
        self._usable = tuple(r for r in self.rates if 1000 <= r < self.sample_rate)
        if not self._usable:
            raise AugmentationConfigError(
                f"Resample: none of the rates {list(self.rates)} is below the sample rate "
                f"{self.sample_rate} Hz", hint="list lower intermediate rates")

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rate = self._usable[rng.integers(len(self._usable))]
        return resample_round_trip(x, self.sample_rate, rate)

