"""Copy-synthesis systems on speech-like input: the contract (length, dtype, level, determinism) and that the
twin keeps the original's spectral envelope while not being a copy of it."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from unmask.data.synthesize import SynthesisError, copy_system_names, get_copy_system, item_rng

RATE = 16000


def voiced_speech(seconds: float = 1.5, rate: int = RATE, f0_hz: float = 120.0, seed: int = 0) -> np.ndarray:
    """A vowel-like signal: glottal pulses at a gliding F0 through three formant resonators, two syllables,
    plus breath noise. Enough structure (harmonics, formants, voicing changes) for a vocoder to analyse."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = f0_hz * (1 + 0.15 * np.sin(2 * np.pi * 1.3 * t))
    phase = np.cumsum(f0 / rate)
    pulses = np.zeros(n)
    pulses[np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1] = 1.0
    source = scipy.signal.lfilter([1.0], [1.0, -1.8, 0.81], pulses)  # glottal roll-off (-12 dB/oct)
    source += 0.02 * rng.standard_normal(n)
    out = np.zeros(n)
    half = n // 2
    for segment, formants in ((slice(0, half), (700, 1200, 2600)), (slice(half, n), (300, 2300, 3000))):
        voice = source[segment]
        for freq in formants:
            b, a = scipy.signal.iirpeak(freq, Q=freq / 90.0, fs=rate)
            voice = scipy.signal.lfilter(b, a, voice) + 0.3 * voice
        out[segment] = voice
    envelope = np.clip(np.sin(np.pi * t / (seconds / 2)) ** 2 * 1.2, 0, 1)  # two syllables
    out = out * envelope + 0.002 * rng.standard_normal(n)
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def espeak_speech(tmp_path) -> np.ndarray:
    wav = tmp_path / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "The birch canoe slid on the smooth planks."],
                   check=True, capture_output=True, timeout=30)
    wave, rate = sf.read(wav, dtype="float32")
    return scipy.signal.resample_poly(wave, RATE, rate).astype(np.float32)


def log_spectrum(wave: np.ndarray) -> np.ndarray:
    _, power = scipy.signal.welch(wave, RATE, nperseg=512)
    return np.log(power + 1e-12)


def level_db(wave: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))


@pytest.fixture(scope="module", params=["harmonic", "espeak-ng"])
def speech(request, tmp_path_factory) -> np.ndarray:
    if request.param == "harmonic":
        return voiced_speech()
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); the harmonic fixture still runs")
    return espeak_speech(tmp_path_factory.mktemp("espeak"))


@pytest.mark.parametrize("name", copy_system_names())
def test_twin_keeps_length_level_and_envelope_but_is_not_a_copy(name, speech):
    original = speech.copy()
    fake = get_copy_system(name).resynthesize(speech, RATE, item_rng(0, name, "clip"))
    assert np.array_equal(speech, original), "the input must not be changed"
    assert fake.dtype == np.float32 and fake.shape == speech.shape
    assert np.isfinite(fake).all()
    assert np.max(np.abs(fake - speech)) > 0.01, "the twin must not be the input"
    assert abs(level_db(fake) - level_db(speech)) < 3.0
    correlation = np.corrcoef(log_spectrum(speech), log_spectrum(fake))[0, 1]
    assert correlation > 0.5, f"{name}: log-spectrum correlation {correlation:.2f}"


@pytest.mark.parametrize("name", copy_system_names())
def test_same_seed_same_output(name):
    wave = voiced_speech(seconds=0.8)
    system = get_copy_system(name)
    first = system.resynthesize(wave, RATE, item_rng(3, name, "a"))
    again = system.resynthesize(wave, RATE, item_rng(3, name, "a"))
    assert np.array_equal(first, again)


@pytest.mark.parametrize("name", ["griffinlim", "griffinlim-mel", "lpc"])
def test_random_systems_change_with_the_seed(name):
    wave = voiced_speech(seconds=0.8)
    system = get_copy_system(name)
    assert not np.array_equal(system.resynthesize(wave, RATE, item_rng(1, name, "a")),
                              system.resynthesize(wave, RATE, item_rng(2, name, "a")))


def test_coarse_world_differs_from_full_world():
    wave = voiced_speech(seconds=0.8)
    full = get_copy_system("world").resynthesize(wave, RATE, item_rng(0, "world", "a"))
    coarse = get_copy_system("world-coarse").resynthesize(wave, RATE, item_rng(0, "world-coarse", "a"))
    assert np.max(np.abs(full - coarse)) > 0.01


def test_mel_variant_loses_harmonic_detail_that_linear_keeps():
    """The 80-band mel round trip smears harmonics: its spectrum is further from the original's."""
    wave = voiced_speech()
    linear = get_copy_system("griffinlim").resynthesize(wave, RATE, item_rng(0, "g", "a"))
    mel = get_copy_system("griffinlim-mel").resynthesize(wave, RATE, item_rng(0, "g", "a"))
    original = log_spectrum(wave)
    assert np.corrcoef(original, log_spectrum(linear))[0, 1] > np.corrcoef(original, log_spectrum(mel))[0, 1]


def test_silence_stays_silent_and_too_short_is_an_error():
    system = get_copy_system("lpc")
    silent = system.resynthesize(np.zeros(RATE, dtype=np.float32), RATE, item_rng(0, "lpc", "s"))
    assert silent.shape == (RATE,) and not silent.any()
    with pytest.raises(SynthesisError, match="shorter than"):
        system.resynthesize(np.ones(100, dtype=np.float32) * 0.1, RATE, item_rng(0, "lpc", "s"))


def test_loud_input_is_kept_below_full_scale():
    wave = voiced_speech(seconds=0.8)
    wave = wave / np.max(np.abs(wave)) * 0.99
    fake = get_copy_system("lpc").resynthesize(wave, RATE, item_rng(0, "lpc", "a"))
    assert np.max(np.abs(fake)) <= 0.999 + 1e-6


def test_unknown_system_names_the_known_ones():
    with pytest.raises(ValueError, match="world-coarse"):
        get_copy_system("hifigan")
