"""Train-time augmentation: the shared contract for every transform, then each transform's own effect.

Fixtures are generated here: a speech-like test signal (150 Hz harmonic series up to 7 kHz with 1/k
amplitudes, a 100-3500 Hz chirp, white noise 35 dB down), and a real speech clip from
../shared/data/realworld-dev when that data set is present.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy import signal

from unmask.train.augment import (
    AddNoise,
    AugmentationConfigError,
    BandLimit,
    CodecRoundTrip,
    Compose,
    Gain,
    ISDAdditiveNoise,
    LnLConvolutiveNoise,
    RandomApply,
    RandomChoice,
    RawBoost,
    Resample,
    Reverb,
    SSIAdditiveNoise,
    build_augmentation,
    coloured_noise,
    default_channel_chain,
    synthetic_rir,
)
from unmask.train.augment.codecs import estimate_delay

RATE = 16000


def speechlike(seconds: float = 2.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Harmonics of 150 Hz (1/k, up to 7 kHz) + a 100->3500 Hz chirp + white noise, peak 0.5."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t + k) / k for k in range(1, 47))
    chirp = 0.8 * signal.chirp(t, f0=100, t1=seconds, f1=3500)
    wave = harmonics + chirp
    wave = wave + np.random.default_rng(seed).standard_normal(t.shape) * np.sqrt(np.mean(wave**2)) * 10**-1.75
    return (0.5 * wave / np.max(np.abs(wave))).astype(np.float32)


@pytest.fixture(scope="module")
def wave() -> np.ndarray:
    return speechlike()


def band_energy(x: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    freqs, psd = signal.welch(x.astype(np.float64), fs=rate, nperseg=1024)
    band = (freqs >= low) & (freqs <= high)
    return float(np.sum(psd[band]))


def achieved_snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of ``noisy`` against ``clean``, immune to a global rescale (peak limiting)."""
    clean, noisy = clean.astype(np.float64), noisy.astype(np.float64)
    scale = np.dot(noisy, clean) / np.dot(clean, clean)
    residual = noisy - scale * clean
    return float(10 * np.log10(np.sum((scale * clean) ** 2) / np.sum(residual**2)))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


# Every transform with randomness, built with its defaults (or a cheap, still random, variant).
TRANSFORMS = {
    "gain": lambda: Gain(),
    "noise": lambda: AddNoise(),
    "reverb": lambda: Reverb(),
    "band_limit": lambda: BandLimit(),
    "resample": lambda: Resample(),
    "codec": lambda: CodecRoundTrip(codecs=["mp3", "opus", "mulaw"]),
    "rawboost_lnl": lambda: LnLConvolutiveNoise(),
    "rawboost_isd": lambda: ISDAdditiveNoise(),
    "rawboost_ssi": lambda: SSIAdditiveNoise(),
    "rawboost_la": lambda: RawBoost("la"),
    "compose": lambda: Compose([Gain(), AddNoise()]),
    "random_choice": lambda: RandomChoice([Reverb(), BandLimit()]),
    "default_chain": lambda: default_channel_chain(),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_contract_length_dtype_finite_peak_and_determinism(name: str, wave: np.ndarray) -> None:
    aug = TRANSFORMS[name]()
    before = wave.copy()
    out = aug(wave, np.random.default_rng(1))
    assert out.dtype == np.float32 and out.shape == wave.shape
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(wave, before)  # the input is never modified
    if name != "gain":
        assert np.max(np.abs(out)) <= 1.0
    np.testing.assert_array_equal(out, aug(wave, np.random.default_rng(1)))
    # Another seed gives another output (the default chain may leave a clip untouched: try a few).
    others = [aug(wave, np.random.default_rng(seed)) for seed in (2, 3, 4)]
    assert any(not np.array_equal(out, other) for other in others)
    changed = [o for o in [out, *others] if np.max(np.abs(o - wave)) > 1e-3]
    assert changed, f"{name} never changed the signal"


def test_input_validation(wave: np.ndarray) -> None:
    aug = AddNoise()
    with pytest.raises(AugmentationConfigError, match="1-D"):
        aug(np.stack([wave, wave]), np.random.default_rng(0))
    with pytest.raises(AugmentationConfigError, match="dtype int16"):
        aug((wave * 32767).astype(np.int16), np.random.default_rng(0))
    with pytest.raises(AugmentationConfigError, match="NaN"):
        aug(np.array([0.1, np.nan], dtype=np.float32), np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        aug(wave, 0)
    assert aug(np.zeros(0, dtype=np.float32), np.random.default_rng(0)).shape == (0,)


def test_bad_ranges_are_rejected() -> None:
    with pytest.raises(AugmentationConfigError, match="snr_db"):
        AddNoise(snr_db=(30, 10))
    with pytest.raises(AugmentationConfigError, match="rt60_s"):
        Reverb(rt60_s=[0.0, 1.0])
    with pytest.raises(AugmentationConfigError, match="unknown mode"):
        BandLimit(modes=["notch"])


# --- gain -------------------------------------------------------------------------------------------

def test_gain_applies_a_level_in_range(wave: np.ndarray) -> None:
    for seed in range(5):
        out = Gain(gain_db=(-12, 6))(wave, np.random.default_rng(seed))
        ratio_db = 20 * np.log10(np.sum(np.abs(out)) / np.sum(np.abs(wave)))
        assert -12.0 - 1e-4 <= ratio_db <= 6.0 + 1e-4
        np.testing.assert_allclose(out, wave * 10 ** (ratio_db / 20), rtol=1e-5, atol=1e-7)
    loud = Gain(gain_db=12.0)(wave, np.random.default_rng(0))
    assert np.max(np.abs(loud)) == pytest.approx(4 * 0.5, rel=0.01)  # past full scale, as asked
    limited = Gain(gain_db=12.0, limit_peak=True)(wave, np.random.default_rng(0))
    assert np.max(np.abs(limited)) == pytest.approx(1.0, abs=1e-6)


# --- noise ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_noise_hits_the_requested_snr(kind: str, wave: np.ndarray) -> None:
    for seed, snr in enumerate([0.0, 10.0, 25.0]):
        out = AddNoise(snr_db=snr, kinds=[kind])(wave, np.random.default_rng(seed))
        assert achieved_snr_db(wave, out) == pytest.approx(snr, abs=1.0)
    for seed in range(4):
        out = AddNoise(snr_db=(5, 20), kinds=[kind])(wave, np.random.default_rng(seed))
        assert 4.0 <= achieved_snr_db(wave, out) <= 21.0


def test_noise_colours_have_their_spectral_slopes() -> None:
    rng = np.random.default_rng(0)
    for colour, exponent in [("white", 0.0), ("pink", 1.0), ("brown", 2.0)]:
        freqs, psd = signal.welch(coloured_noise(RATE * 8, colour, rng), fs=RATE, nperseg=4096)
        band = (freqs >= 50) & (freqs <= 5000)
        slope = np.polyfit(np.log10(freqs[band]), np.log10(psd[band]), 1)[0]
        assert slope == pytest.approx(-exponent, abs=0.15), colour


def test_noise_from_clips_and_babble(wave: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    clips = [speechlike(0.7, seed=s)[::-1].copy() for s in range(4)]  # shorter than the wave: looped
    for kind in ("clip", "babble"):
        aug = AddNoise(snr_db=12.0, kinds=[kind], clips=clips)
        out = aug(wave, rng)
        assert achieved_snr_db(wave, out) == pytest.approx(12.0, abs=1.0)
    assert AddNoise(clips=clips).kinds == ("white", "pink", "brown", "clip", "babble")
    with pytest.raises(AugmentationConfigError, match="need noise clips"):
        AddNoise(kinds=["babble"])
    with pytest.raises(AugmentationConfigError, match="clip #1"):
        AddNoise(clips=[clips[0], np.zeros(100)])


def test_noise_leaves_silence_alone() -> None:
    silence = np.zeros(RATE, dtype=np.float32)
    np.testing.assert_array_equal(AddNoise()(silence, np.random.default_rng(0)), silence)


# --- reverb -----------------------------------------------------------------------------------------

def test_synthetic_rir_has_the_requested_rt60_and_drr() -> None:
    rir = synthetic_rir(0.6, 6.0, 0.005, RATE, np.random.default_rng(0))
    assert rir[0] == 1.0 and np.all(rir[1:80] == 0.0)
    assert 10 * np.log10(1.0 / np.sum(rir[1:] ** 2)) == pytest.approx(6.0, abs=1e-6)
    # Schroeder backward integration: the decay between -5 and -25 dB, extrapolated to 60 dB.
    edc = np.cumsum(rir[1:][::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    t5, t25 = np.argmax(edc_db <= -5) / RATE, np.argmax(edc_db <= -25) / RATE
    assert 3 * (t25 - t5) == pytest.approx(0.6, rel=0.15)


def test_reverb_adds_a_decaying_tail_without_delay(wave: np.ndarray) -> None:
    gated = wave.copy()
    gated[RATE:] = 0.0  # 1 s of signal, then 1 s of silence for the tail to ring into
    short = Reverb(rt60_s=0.2, drr_db=3.0)(gated, np.random.default_rng(0))
    long = Reverb(rt60_s=0.8, drr_db=3.0)(gated, np.random.default_rng(0))
    tail = slice(RATE + RATE // 10, 2 * RATE)  # from 100 ms after the signal stops
    assert np.sum(gated[tail] ** 2) == 0.0
    assert np.sum(short[tail] ** 2) > 0.0
    assert np.sum(long[tail] ** 2) > 100 * np.sum(short[tail] ** 2)
    assert estimate_delay(gated.astype(float), long.astype(float), 2000) == 0


# --- band limit and resampling ----------------------------------------------------------------------

def test_lowpass_removes_energy_above_the_cutoff(wave: np.ndarray) -> None:
    out = BandLimit(modes=["lowpass"], lowpass_hz=4000.0)(wave, np.random.default_rng(0))
    assert band_energy(out, 5000, 8000) < 1e-4 * band_energy(wave, 5000, 8000)  # > 40 dB down
    assert band_energy(out, 200, 3000) == pytest.approx(band_energy(wave, 200, 3000), rel=0.05)
    assert estimate_delay(wave.astype(float), out.astype(float), 2000) == 0  # zero phase


def test_highpass_and_telephone_band() -> None:
    # White noise has energy in every band, so stop-band attenuation is measurable everywhere.
    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * RATE)).astype(np.float32)
    high = BandLimit(modes=["highpass"], highpass_hz=600.0)(noise, np.random.default_rng(0))
    assert band_energy(high, 0, 250) < 1e-3 * band_energy(noise, 0, 250)
    assert band_energy(high, 1000, 7000) == pytest.approx(band_energy(noise, 1000, 7000), rel=0.05)
    phone = BandLimit(modes=["telephone"], telephone_low_hz=300.0, telephone_high_hz=3400.0, order=8)(
        noise, np.random.default_rng(0))
    assert band_energy(phone, 0, 100) < 1e-3 * band_energy(noise, 0, 100)
    assert band_energy(phone, 5000, 8000) < 1e-3 * band_energy(noise, 5000, 8000)
    assert band_energy(phone, 500, 3000) == pytest.approx(band_energy(noise, 500, 3000), rel=0.1)


def test_resample_chain_band_limits(wave: np.ndarray) -> None:
    out = Resample(rates=[8000])(wave, np.random.default_rng(0))
    assert band_energy(out, 4300, 8000) < 1e-3 * band_energy(wave, 4300, 8000)
    assert correlation(out, wave) > 0.95
    with pytest.raises(AugmentationConfigError, match="below the sample rate"):
        Resample(rates=[22050, 44100], sample_rate=16000)


# --- RawBoost ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("algo", [1, 2, 3, 4, 5, 6, 7, 8, "la", "df"])
def test_rawboost_algorithms_change_the_signal_and_stay_finite(algo, wave: np.ndarray) -> None:
    out = RawBoost(algo)(wave, np.random.default_rng(3))
    assert out.shape == wave.shape and np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
    assert np.max(np.abs(out - wave)) > 1e-3
    assert correlation(out, wave) > 0.3  # distorted, still the same signal


def test_rawboost_presets_and_errors() -> None:
    assert RawBoost("la").algo == 5 and RawBoost("DF").algo == 3
    with pytest.raises(AugmentationConfigError, match="unknown algo"):
        RawBoost(9)
    with pytest.raises(AugmentationConfigError, match="n_f"):
        LnLConvolutiveNoise(n_f=0)


def test_rawboost_isd_touches_at_most_max_percent_of_samples(wave: np.ndarray) -> None:
    quiet = wave * 0.2  # peak 0.1: even 3x spikes stay under full scale, so nothing is rescaled
    for seed in range(4):
        out = ISDAdditiveNoise(max_percent=10, g_sd=2)(quiet, np.random.default_rng(seed))
        changed = np.mean(np.abs(out - quiet) > 1e-7)
        assert 0 < changed <= 0.10
        assert np.max(np.abs(out - quiet) / (np.abs(quiet) + 1e-9)) <= 2.0 + 1e-3  # |g_sd * r| <= 2


def test_rawboost_ssi_hits_its_snr(wave: np.ndarray) -> None:
    for seed in range(4):
        out = SSIAdditiveNoise(snr_db=(10, 40))(wave, np.random.default_rng(seed))
        assert 9.0 <= achieved_snr_db(wave, out) <= 41.0
    out = SSIAdditiveNoise(snr_db=15.0)(wave, np.random.default_rng(0))
    assert achieved_snr_db(wave, out) == pytest.approx(15.0, abs=1.0)


def test_rawboost_nonlinear_terms_add_harmonics() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.8 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)

    def harmonic_energy(x: np.ndarray) -> float:
        return sum(band_energy(x, 440 * k - 30, 440 * k + 30) for k in (2, 3, 4, 5))

    for seed in range(3):
        linear = LnLConvolutiveNoise(n_f=1)(tone, np.random.default_rng(seed))
        nonlinear = LnLConvolutiveNoise(n_f=5)(tone, np.random.default_rng(seed))
        assert harmonic_energy(nonlinear) > 100 * harmonic_energy(linear)


# --- combinators and config -------------------------------------------------------------------------

def test_random_apply_probability_and_choice_weights(wave: np.ndarray) -> None:
    short = wave[:64]
    rng = np.random.default_rng(0)
    applied = [not np.array_equal(RandomApply(Gain(gain_db=-6.0), p=0.3)(short, rng), short)
               for _ in range(2000)]
    assert np.mean(applied) == pytest.approx(0.3, abs=0.04)
    np.testing.assert_array_equal(RandomApply(Gain(gain_db=-6.0), p=0.0)(short, rng), short)
    only_second = RandomChoice([Gain(gain_db=-6.0), Gain(gain_db=-20.0)], weights=[0, 1])
    for _ in range(20):
        np.testing.assert_allclose(only_second(short, rng), short * 0.1, rtol=1e-5)


def test_compose_applies_in_order_on_one_random_stream(wave: np.ndarray) -> None:
    chain = Compose([Gain(gain_db=(-6.0, -3.0)), AddNoise(snr_db=(15.0, 25.0))])
    rng = np.random.default_rng(5)
    expected = AddNoise(snr_db=(15.0, 25.0))(Gain(gain_db=(-6.0, -3.0))(wave, rng), rng)
    out = chain(wave, np.random.default_rng(5))
    np.testing.assert_array_equal(out, expected)
    assert 14.0 <= achieved_snr_db(wave, out) <= 26.0
    assert -6.5 <= 10 * np.log10(np.sum(out.astype(float) ** 2) / np.sum(wave.astype(float) ** 2)) <= -2.5


def test_build_augmentation_from_yaml(wave: np.ndarray) -> None:
    config = yaml.safe_load("""
    - {name: gain, p: 1.0, gain_db: [-6, -6]}
    - {name: one_of, transforms: [{name: band_limit, modes: [lowpass]}, {name: resample, rates: [8000]}],
       weights: [1, 3]}
    - {name: codec, p: 0.5, codecs: [mp3, aac, opus], bitrates: {mp3: [32000]}}
    - {name: rawboost, p: 0.2, algo: la, isd: {max_percent: 5}}
    """)
    aug = build_augmentation(config)
    assert isinstance(aug, Compose) and len(aug.transforms) == 4
    assert isinstance(aug.transforms[0], RandomApply) and aug.transforms[0].transform.gain_db == (-6.0, -6.0)
    assert aug.transforms[1].weights == (1.0, 3.0)
    assert aug.transforms[2].transform.codecs == ("mp3", "aac", "opus")
    assert aug.transforms[3].transform._steps["isd"].max_percent == 5
    out = aug(wave, np.random.default_rng(0))
    assert out.shape == wave.shape and np.array_equal(out, aug(wave, np.random.default_rng(0)))
    assert isinstance(build_augmentation({"name": "default"}), Compose)
    assert build_augmentation([{"name": "band_limit"}], sample_rate=8000).transforms[0].sample_rate == 8000


@pytest.mark.parametrize("config, message", [
    ([{"name": "echo"}], "unknown augmentation 'echo'"),
    ([{"name": "noise", "snr": 5}], r"unknown setting\(s\) \['snr'\]"),
    ([{"name": "noise", "p": 2}], "p must be within"),
    ([{"name": "noise", "sample_rate": 8000}], "sample_rate is set once"),
    ([{"gain_db": 3}], "with a 'name'"),
    ([{"name": "one_of"}], "needs 'transforms'"),
    ([{"name": "codec", "codecs": ["wma"]}], r"config\[0\] \(codec\).*unknown codec"),
    ("gain", "a dict or a list"),
])
def test_build_augmentation_rejects_bad_configs(config, message: str) -> None:
    with pytest.raises(AugmentationConfigError, match=message):
        build_augmentation(config)
