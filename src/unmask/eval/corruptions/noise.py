"""Additive noise corruptions: the noise is scaled so the whole-clip SNR (mean powers) is the severity's.

Background sources (babble, music) come from ``pool`` (other clips at the same rate) when one is given;
without a pool they are synthesised deterministically from the seed (see :mod:`.synthetic`), so a bench
runs with no noise corpus at all. A silent input is returned unchanged (an SNR against silence is
undefined).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from unmask.eval.corruptions.base import Corruption
from unmask.eval.corruptions.synthetic import synthetic_music, synthetic_talker
from unmask.signal import add_at_snr, coloured_noise, looped_excerpt, power

SNR_LADDER_DB = (30.0, 20.0, 10.0, 5.0, 0.0)
BACKGROUND_SNR_LADDER_DB = (20.0, 15.0, 10.0, 5.0, 0.0)
BABBLE_TALKERS = 6
#: Impulsive noise: clicks of this length (a decaying noise burst), their rate rising with severity.
CLICK_MS = 2.0


def _snr_label(params: Mapping[str, Any]) -> str:
    return f"SNR {params['snr_db']:g} dB"


def _white(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return add_at_snr(x, coloured_noise(x.shape[0], "white", rng), p["snr_db"])


def _pink(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return add_at_snr(x, coloured_noise(x.shape[0], "pink", rng), p["snr_db"])


def _unit_power(y: np.ndarray) -> np.ndarray:
    return y / np.sqrt(max(power(y), 1e-20))


def babble_noise(n: int, rate: int, talkers: int, rng: np.random.Generator,
                 pool: Sequence[np.ndarray] | None) -> np.ndarray:
    """The sum of ``talkers`` equal-power voices: random excerpts of pool clips (drawn with replacement
    only when the pool is smaller than ``talkers``), or synthetic talkers when there is no pool."""
    noise = np.zeros(n)
    if pool:
        picks = rng.choice(len(pool), size=talkers, replace=talkers > len(pool))
        for i in picks:
            noise += _unit_power(looped_excerpt(pool[i], n, int(rng.integers(pool[i].shape[0]))))
    else:
        for _ in range(talkers):
            noise += _unit_power(synthetic_talker(n, rate, rng))
    return noise


def _babble(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator,
            pool: Sequence[np.ndarray] | None) -> np.ndarray:
    return add_at_snr(x, babble_noise(x.shape[0], rate, p["talkers"], rng, pool), p["snr_db"])


def _music(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator,
           pool: Sequence[np.ndarray] | None) -> np.ndarray:
    if pool:
        clip = pool[int(rng.integers(len(pool)))]
        noise = looped_excerpt(clip, x.shape[0], int(rng.integers(clip.shape[0])))
    else:
        noise = synthetic_music(x.shape[0], rate, rng)
    return add_at_snr(x, noise, p["snr_db"])


def impulsive_noise(n: int, rate: int, clicks_per_s: float, rng: np.random.Generator) -> np.ndarray:
    """Clicks at Poisson times (``clicks_per_s`` on average, at least one): each a CLICK_MS burst of
    Gaussian noise under a fast exponential decay, with a random sign and a log-uniform amplitude spread
    over 20 dB (crackle, bad contacts, keyboard)."""
    count = max(1, int(rng.poisson(clicks_per_s * n / rate)))
    length = max(2, int(round(CLICK_MS * rate / 1000)))
    shape = np.exp(-np.arange(length) * 5.0 / length)
    noise = np.zeros(n + length)
    for start, amplitude in zip(rng.integers(0, n, size=count), 10.0 ** rng.uniform(-1.0, 0.0, size=count),
                                strict=True):
        noise[start:start + length] += amplitude * shape * rng.standard_normal(length)
    return noise[:n]


def _impulsive(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
    return add_at_snr(x, impulsive_noise(x.shape[0], rate, p["clicks_per_s"], rng), p["snr_db"])


NOISE_CORRUPTIONS = (
    Corruption("white-noise", "noise", "Additive white Gaussian noise.",
               tuple({"snr_db": s} for s in SNR_LADDER_DB), _white, _snr_label, stochastic=True),
    Corruption("pink-noise", "noise", "Additive pink (1/f) Gaussian noise.",
               tuple({"snr_db": s} for s in SNR_LADDER_DB), _pink, _snr_label, stochastic=True),
    Corruption("babble", "noise",
               f"Crowd babble: {BABBLE_TALKERS} equal-power talkers, excerpts of pool clips, or synthetic "
               "talkers (formant-filtered pulse trains with random pitch, vowels and syllable timing) when "
               "no pool is given.",
               tuple({"snr_db": s, "talkers": BABBLE_TALKERS} for s in BACKGROUND_SNR_LADDER_DB), _babble,
               lambda p: f"SNR {p['snr_db']:g} dB, {p['talkers']} talkers", stochastic=True),
    Corruption("music", "noise",
               "Background music: an excerpt of one pool clip, or (no pool) procedurally generated music: "
               "random harmonic notes on a scale (chords and a melody) plus kick/snare/hi-hat percussion.",
               tuple({"snr_db": s} for s in BACKGROUND_SNR_LADDER_DB), _music, _snr_label, stochastic=True),
    Corruption("impulsive-noise", "noise",
               f"Clicks: {CLICK_MS:g} ms decaying noise bursts at Poisson times, more of them and louder "
               "with severity.",
               tuple({"snr_db": s, "clicks_per_s": c}
                     for s, c in zip((25.0, 20.0, 15.0, 10.0, 5.0), (2.0, 5.0, 10.0, 20.0, 40.0),
                                     strict=True)),
               _impulsive, lambda p: f"SNR {p['snr_db']:g} dB, {p['clicks_per_s']:g} clicks/s",
               stochastic=True),
)
