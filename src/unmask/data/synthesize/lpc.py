"""LPC copy-synthesis: an all-pole vocal-tract filter per frame, driven by a pulse train or noise.

Each ``frame_ms`` frame (Hann window, 50% overlap) of the pre-emphasised signal gets an order-``order``
linear-prediction filter (autocorrelation method, Levinson-Durbin) and a gain. A simple pitch tracker
(normalised autocorrelation of the low-passed signal, 60-400 Hz) marks frames voiced or not; the excitation
is a band-unlimited pulse train at the tracked F0 (with a little aspiration noise) where voiced and white
noise elsewhere. Each frame's excitation is filtered through its own filter (after one frame of warm-up so
the filter state is settled), windowed and overlap-added, then de-emphasised.

This is the classic LPC-10-style vocoder: the envelope survives, the fine structure is replaced by an
idealised buzz/hiss source, and the phase is that of a minimum-phase filter, an older and blunter fingerprint
than WORLD's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.signal

from unmask.data.synthesize.base import CopySystem

_PITCH_RANGE_HZ = (60.0, 400.0)
_PITCH_LOWPASS_HZ = 1000.0


@dataclass(frozen=True)
class LpcVocoder(CopySystem):
    """Frame-wise LPC analysis, pulse/noise excitation from a tracked F0, overlap-add synthesis."""

    name: str = "lpc"
    order: int = 20
    frame_ms: float = 25.0
    pre_emphasis: float = 0.97
    voicing_threshold: float = 0.45
    aspiration: float = 0.05

    def __post_init__(self) -> None:
        if not 2 <= self.order <= 64:
            raise ValueError(f"order must be in 2..64, got {self.order}")
        if not 5 <= self.frame_ms <= 100:
            raise ValueError(f"frame_ms must be in 5..100, got {self.frame_ms}")

    def _resynthesize(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        frame = 2 * int(round(self.frame_ms * sample_rate / 2000))  # even, so hop = frame / 2 exactly
        hop = frame // 2
        emphasised = scipy.signal.lfilter([1.0, -self.pre_emphasis], [1.0], wave)
        padded = np.pad(emphasised, (frame, frame + hop))  # room for the first frame's warm-up
        n_frames = (wave.size + frame) // hop + 1
        # Frame k covers padded[starts[k] : starts[k] + frame] and is centred on signal sample k * hop.
        starts = frame // 2 + hop * np.arange(n_frames)
        window = scipy.signal.get_window("hann", frame)  # periodic Hann: sums to 1 at 50% overlap
        frames = padded[starts[:, None] + np.arange(frame)]
        coefficients, gains = _lpc(frames * window, self.order, window)
        f0 = _track_f0(np.pad(wave, (frame, frame + hop)), starts, frame, sample_rate, self.voicing_threshold)
        excitation = _excitation(f0, starts + frame // 2, padded.size, sample_rate, self.aspiration, rng)
        out = np.zeros(padded.size)
        for k, start in enumerate(starts):
            if gains[k] <= 0.0:
                continue
            segment = excitation[max(start - frame, 0):start + frame]
            filtered = scipy.signal.lfilter([gains[k]], coefficients[k], segment)[-frame:]
            out[start:start + frame] += filtered * window
        out = scipy.signal.lfilter([1.0], [1.0, -self.pre_emphasis], out)
        return out[frame:frame + wave.size]


def _lpc(frames: np.ndarray, order: int, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame ``[1, -a1..-ap]`` denominators and residual RMS gains (0 for silent frames)."""
    n = frames.shape[1]
    spectrum = np.fft.rfft(frames, n=2 * n, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :order + 1]
    window_power = float(np.sum(window**2))
    denominators = np.zeros((frames.shape[0], order + 1))
    denominators[:, 0] = 1.0
    gains = np.zeros(frames.shape[0])
    floor = 1e-10 * max(float(autocorr[:, 0].max()), 1e-30)
    for k, r in enumerate(autocorr):
        if r[0] <= floor:
            continue
        r = r.copy()
        r[0] *= 1.0 + 1e-6  # white-noise correction keeps Levinson well conditioned
        predictor = scipy.linalg.solve_toeplitz(r[:order], r[1:order + 1])
        error = r[0] - float(np.dot(predictor, r[1:order + 1]))
        denominators[k, 1:] = -predictor
        gains[k] = np.sqrt(max(error, 0.0) / window_power)
    return denominators, gains


def _track_f0(padded: np.ndarray, starts: np.ndarray, frame: int, sample_rate: int,
              threshold: float) -> np.ndarray:
    """F0 in Hz per frame (0 = unvoiced): normalised autocorrelation of a 2-frame, low-passed window."""
    sos = scipy.signal.butter(4, _PITCH_LOWPASS_HZ, fs=sample_rate, output="sos")
    low = scipy.signal.sosfiltfilt(sos, padded)
    span = 2 * frame
    centred = np.clip(starts + frame // 2 - frame, 0, low.size - span)
    frames = low[centred[:, None] + np.arange(span)]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(frames, n=2 * span, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :span]
    energy = autocorr[:, 0]
    min_lag = int(sample_rate / _PITCH_RANGE_HZ[1])
    max_lag = min(int(sample_rate / _PITCH_RANGE_HZ[0]), span - 1)
    lags = np.arange(min_lag, max_lag + 1)
    # Unbias for the shrinking overlap so long lags are not penalised.
    normalised = autocorr[:, lags] / np.maximum(energy[:, None], 1e-30) * (span / (span - lags))
    best = np.argmax(normalised, axis=1)
    peak = normalised[np.arange(frames.shape[0]), best]
    loud = energy > 1e-4 * max(float(energy.max()), 1e-30)
    f0 = np.where((peak > threshold) & loud, sample_rate / lags[best], 0.0)
    return scipy.signal.medfilt(f0, 3)


def _excitation(f0: np.ndarray, centres: np.ndarray, length: int, sample_rate: int, aspiration: float,
                rng: np.random.Generator) -> np.ndarray:
    """Unit-power excitation: pulses at the (interpolated) F0 where voiced, white noise where not."""
    samples = np.arange(length)
    f0_track = np.interp(samples, centres, f0)
    voiced = np.interp(samples, centres, (f0 > 0).astype(float)) > 0.5
    noise = rng.standard_normal(length)
    phase = np.cumsum(np.where(voiced, f0_track, 0.0) / sample_rate)
    pulses = np.zeros(length)
    crossings = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
    pulses[crossings] = np.sqrt(sample_rate / np.maximum(f0_track[crossings], 1.0))
    voiced_source = np.sqrt(1 - aspiration) * pulses + np.sqrt(aspiration) * noise
    return np.where(voiced, voiced_source, noise)
