"""Channel and signal modifications: room, pitch, tempo, bandwidth, level, clipping, lost packets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from unmask.eval.corruptions.base import Corruption
from unmask.signal import band_pass, convolve_same, resample_round_trip, synthetic_rir
from unmask.signal.loudness import loudness_normalise
from unmask.signal.tempo import pitch_shift, time_stretch

#: Packet length for packet loss (a typical VoIP frame).
PACKET_MS = 20.0
#: First-reflection gap of the synthetic room (fixed so only RT60 and DRR vary with severity).
REVERB_GAP_MS = 5.0
#: Butterworth slope of each band edge of the telephone band-pass.
BAND_ORDER = 8


def _reverb(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    rir = synthetic_rir(p["rt60_s"], p["drr_db"], REVERB_GAP_MS / 1000.0, rate, rng)
    return convolve_same(x, rir)


def _pitch(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return pitch_shift(x, rate, p["semitones"])


def _stretch(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return time_stretch(x, rate, p["speed"])


def _resample(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    if p["via_hz"] >= rate:  # upsampling and back loses nothing: the wave passes through
        return x
    return resample_round_trip(x, rate, p["via_hz"])


# Samples below this magnitude (-80 dBFS) count as silence when picking the clipping threshold.
_AUDIBLE = 1e-4


def _clip(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    # The threshold is the (1 - fraction) quantile of |x| over audible samples: that share of them is clipped,
    # whatever the level or crest factor of the input (a peak-relative threshold would depend on one loud
    # sample). Digital silence is left out, or a mostly silent clip would get a threshold of 0 and vanish.
    magnitude = np.abs(x)
    audible = magnitude[magnitude > _AUDIBLE]
    if audible.size == 0:
        return x.copy()
    threshold = float(np.quantile(audible, 1.0 - p["clipped_fraction"]))
    return np.clip(x, -threshold, threshold)


def _gain(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return x * 10.0 ** (p["gain_db"] / 20.0)


def _loudness(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return loudness_normalise(x, rate, p["target_lufs"], p["range_lu"])


def _telephone(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    high = min(p["high_hz"], 0.95 * rate / 2)  # a band written for 16 kHz still works at 8 kHz
    return band_pass(x, p["low_hz"], high, BAND_ORDER, rate)


def _packet_loss(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator,
                 pool) -> np.ndarray:
    packet = max(1, int(round(PACKET_MS * rate / 1000)))
    count = -(-x.shape[0] // packet)
    # One uniform draw per packet, compared with the loss rate: the packets lost at a lower rate are a
    # subset of those lost at a higher one (same seed), so the damage grows with severity.
    lost = rng.random(count) < p["loss_rate"]
    keep = np.repeat(~lost, packet)[: x.shape[0]]
    return np.where(keep, x, 0.0)  # no concealment: a lost packet is silence


MODIFICATION_CORRUPTIONS = (
    Corruption("reverb", "modification",
               f"Synthetic room (exponentially decaying noise tail, {REVERB_GAP_MS:g} ms first-reflection "
               "gap): longer RT60 and lower direct-to-reverberant ratio with severity.",
               tuple({"rt60_s": r, "drr_db": d} for r, d in
                     zip((0.2, 0.4, 0.6, 0.9, 1.2), (15.0, 10.0, 6.0, 3.0, 0.0), strict=True)),
               _reverb, lambda p: f"RT60 {p['rt60_s']:g} s, DRR {p['drr_db']:g} dB", stochastic=True),
    Corruption("pitch-shift", "modification",
               "Pitch moved up, duration kept (FFmpeg asetrate + aresample + atempo, via PyAV).",
               tuple({"semitones": s} for s in (0.5, 1.0, 2.0, 3.0, 4.0)), _pitch,
               lambda p: f"+{p['semitones']:g} semitones"),
    Corruption("time-stretch", "modification",
               "Faster playback, pitch kept (FFmpeg atempo, WSOLA, via PyAV). The output is SHORTER than the "
               "input: about len / speed samples (the only corruption that changes the length).",
               tuple({"speed": s} for s in (1.05, 1.1, 1.2, 1.3, 1.5)), _stretch,
               lambda p: f"speed x{p['speed']:g}", preserves_length=False),
    Corruption("resample", "modification",
               "Down to a lower rate and back up (polyphase, Kaiser window): removes everything above the "
               "lower rate's Nyquist. A via-rate at or above the input rate leaves the wave unchanged (so at "
               "16 kHz, severity 1 is a no-op).",
               tuple({"via_hz": r} for r in (22050, 11025, 8000, 6000)), _resample,
               lambda p: f"via {p['via_hz'] / 1000:g} kHz"),
    Corruption("clipping", "modification",
               "Hard clipping at the level that clips the given share of samples (a magnitude quantile).",
               tuple({"clipped_fraction": f} for f in (0.005, 0.02, 0.05, 0.1, 0.2)), _clip,
               lambda p: f"{100 * p['clipped_fraction']:g}% of samples clipped"),
    Corruption("gain", "modification",
               "Attenuation (a quiet recording); the shape is kept, only the level changes.",
               tuple({"gain_db": g} for g in (-6.0, -12.0, -20.0, -30.0, -40.0)), _gain,
               lambda p: f"gain {p['gain_db']:g} dB"),
    Corruption("loudness", "modification",
               "Loudness normalisation (EBU R128, FFmpeg loudnorm, one pass: gain riding towards the target, "
               "the loudness range held, true peak limited to -1 dBTP), from broadcast (-23 LUFS) through "
               "streaming (-14) to a loud master (-8) with an ever narrower range. A clip shorter than 3 s "
               "gets one gain and the limiter.",
               tuple({"target_lufs": t, "range_lu": r} for t, r in
                     ((-23.0, 15.0), (-16.0, 11.0), (-14.0, 7.0), (-11.0, 5.0), (-8.0, 3.0))), _loudness,
               lambda p: f"{p['target_lufs']:g} LUFS, range {p['range_lu']:g} LU"),
    Corruption("telephone-band", "modification",
               f"Zero-phase Butterworth band-pass (order {BAND_ORDER} per edge), narrowing to and past the "
               "300-3400 Hz telephone band; the upper edge is capped at 0.95 x Nyquist.",
               tuple({"low_hz": lo, "high_hz": hi} for lo, hi in
                     ((100.0, 7000.0), (200.0, 5000.0), (300.0, 3400.0), (400.0, 3000.0), (500.0, 2500.0))),
               _telephone, lambda p: f"{p['low_hz']:g}-{p['high_hz']:g} Hz"),
    Corruption("packet-loss", "modification",
               f"{PACKET_MS:g} ms packets dropped independently at the given rate and replaced by silence "
               "(no concealment).",
               tuple({"loss_rate": r} for r in (0.01, 0.03, 0.05, 0.1, 0.2)), _packet_loss,
               lambda p: f"{100 * p['loss_rate']:g}% of {PACKET_MS:g} ms packets lost", stochastic=True),
)
