"""The corruption suite on a speech-like clip: contract of every corruption and severity, determinism,
severity ordering, codec alignment, pool use, errors, and the generated reference doc."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audio_fixtures import RATE, voiced
from unmask.eval.corruptions import (
    CORRUPTIONS,
    FAMILIES,
    Corruption,
    CorruptionError,
    apply_corruption,
    corruption_available,
    corruption_names,
)
from unmask.eval.corruptions.table import markdown_table
from unmask.signal import SignalError, estimate_delay
from unmask.signal.loudness import loudness_normalise

REPO = Path(__file__).resolve().parents[2]
SEED = 7


def _param(name: str):
    return pytest.param(name, marks=pytest.mark.skipif(
        not corruption_available(name), reason=f"{name}: its encoder is missing here (ffmpeg CLI or PyAV)"))


ALL = [_param(n) for n in CORRUPTIONS]


@functools.cache
def clip() -> np.ndarray:
    return voiced(1.0, np.random.default_rng(0))


@functools.cache
def corrupted(name: str, severity: int, seed: int = SEED) -> np.ndarray:
    out = apply_corruption(clip(), RATE, name, severity, seed)
    out.setflags(write=False)
    return out


def sdr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-distortion ratio in dB (inf for an identical signal)."""
    ref = reference.astype(np.float64)
    err = float(np.sum((ref - test.astype(np.float64)) ** 2))
    return np.inf if err == 0.0 else 10 * np.log10(float(np.sum(ref**2)) / err)


def long_term_lsd(reference: np.ndarray, test: np.ndarray) -> float:
    """RMS log-spectral distance (dB) between the average power spectra: where the energy sits."""
    def spectrum(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), 512)[::256] * np.hanning(512)
        psd = np.mean(np.abs(np.fft.rfft(frames)) ** 2, axis=0)
        return 10 * np.log10(psd + 1e-8 * psd.max())  # an 80 dB floor: filter leakage below it is silence
    return float(np.sqrt(np.mean((spectrum(reference) - spectrum(test)) ** 2)))


def distortion(name: str, out: np.ndarray) -> float:
    """How far ``out`` is from the clean clip, larger = worse: -SDR, or the spectral distance for pitch
    shift (a shifted waveform is uncorrelated with the input at every severity, so SDR cannot rank it) and
    resampling (what it removes, the top of the band, holds ~1e-5 of a speech clip's energy: the waveform
    error is tiny at every severity, the log-spectral loss is not)."""
    if name in ("pitch-shift", "resample"):
        return long_term_lsd(clip(), out)
    return -sdr_db(clip(), out)


def test_registry_has_three_families_and_at_least_16_corruptions() -> None:
    assert len(CORRUPTIONS) >= 16
    assert sorted(sum((corruption_names(f) for f in FAMILIES), [])) == sorted(corruption_names())
    assert corruption_names("noise")[:2] == ["white-noise", "pink-noise"]
    assert {"mp3", "aac", "opus", "vorbis", "amr-nb", "gsm", "g711-mulaw", "g711-alaw", "g722",
            "mp3-aac"} <= set(corruption_names("compression"))
    for name, c in CORRUPTIONS.items():
        assert isinstance(c, Corruption) and c.name == name and c.family in FAMILIES
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), name
        assert 3 <= c.severities <= 5
        descriptions = [c.describe(s) for s in range(1, c.severities + 1)]
        parameters = [c.parameters(s) for s in range(1, c.severities + 1)]
        assert len(set(descriptions)) == c.severities, (name, descriptions)  # each a distinct setting
        assert all(parameters) and len({repr(p) for p in parameters}) == c.severities
    assert CORRUPTIONS["white-noise"].describe(3) == "SNR 10 dB"
    assert CORRUPTIONS["mp3"].parameters(1) == {"codec": "mp3", "bitrate": 64000}


@pytest.mark.parametrize("name", ALL)
def test_every_severity_keeps_the_contract(name: str) -> None:
    c = CORRUPTIONS[name]
    x = clip()
    for severity in range(1, c.severities + 1):
        out = corrupted(name, severity)
        assert out.dtype == np.float32 and out.ndim == 1 and np.all(np.isfinite(out)), (name, severity)
        assert np.max(np.abs(out)) <= 1.0
        if c.preserves_length:
            assert out.shape == x.shape, (name, severity)
        else:  # time-stretch: about len / speed
            expected = x.shape[0] / c.parameters(severity)["speed"]
            assert abs(out.shape[0] - expected) < 0.02 * expected, (severity, out.shape, expected)
    worst = corrupted(name, c.severities)
    assert worst.shape != x.shape or np.max(np.abs(worst - x)) > 1e-3, f"{name} at its worst changed nothing"
    np.testing.assert_array_equal(x, clip())  # the input is never modified


@pytest.mark.parametrize("name", ALL)
def test_distortion_grows_with_severity(name: str) -> None:
    c = CORRUPTIONS[name]
    if not c.preserves_length:
        lengths = [corrupted(name, s).shape[0] for s in range(1, c.severities + 1)]
        assert lengths == sorted(lengths, reverse=True) and len(set(lengths)) == len(lengths)
        return
    d = [distortion(name, corrupted(name, s)) for s in range(1, c.severities + 1)]
    # Each step may not get better by more than 0.3 dB of measurement noise, and the ladder as a whole
    # must get clearly worse.
    assert all(b >= a - 0.3 for a, b in zip(d[:-1], d[1:], strict=True)), (name, np.round(d, 2))
    assert d[-1] > d[0] + 1.0, (name, np.round(d, 2))


@pytest.mark.parametrize("name", ALL)
def test_deterministic_given_the_seed(name: str) -> None:
    c = CORRUPTIONS[name]
    worst = c.severities
    np.testing.assert_array_equal(apply_corruption(clip(), RATE, name, worst, SEED), corrupted(name, worst))
    other = apply_corruption(clip(), RATE, name, worst, SEED + 1)
    if c.stochastic:
        same = corrupted(name, worst)
        assert other.shape != same.shape or not np.array_equal(other, same)
    else:
        np.testing.assert_array_equal(other, corrupted(name, worst))


@pytest.mark.parametrize("name", [_param(n) for n in corruption_names("compression")])
def test_codec_outputs_are_time_aligned(name: str) -> None:
    for severity in (1, CORRUPTIONS[name].severities):
        lag = estimate_delay(clip().astype(np.float64), corrupted(name, severity).astype(np.float64), 800)
        assert abs(lag) <= (8 if name == "amr-nb" else 2), (name, severity, lag)


def test_noise_is_added_at_the_stated_snr() -> None:
    for name in ("white-noise", "pink-noise", "babble", "music", "impulsive-noise"):
        c = CORRUPTIONS[name]
        for severity in (1, c.severities):
            out = corrupted(name, severity).astype(np.float64)
            limited = np.isclose(np.max(np.abs(out)), 1.0)
            # Undo peak limiting (one scale factor; the noise is near-uncorrelated with the clip, so the
            # estimate is good to a few tenths of a dB on a 1 s clip).
            scale = float(np.dot(out, clip()) / np.dot(clip(), clip())) if limited else 1.0
            snr = sdr_db(clip(), out / scale)
            assert abs(snr - c.parameters(severity)["snr_db"]) < (0.3 if limited else 0.05), (name, severity)


def test_pitch_shift_moves_the_pitch_and_gain_the_level() -> None:
    def f0(x: np.ndarray) -> float:
        seg = x[4000:12000].astype(np.float64)
        ac = np.correlate(seg, seg, "full")[seg.size - 1:]
        lo, hi = RATE // 400, RATE // 60
        return RATE / (lo + int(np.argmax(ac[lo:hi])))
    semitones = CORRUPTIONS["pitch-shift"].parameters(5)["semitones"]
    assert f0(corrupted("pitch-shift", 5)) / f0(clip()) == pytest.approx(2 ** (semitones / 12), rel=0.04)
    np.testing.assert_allclose(corrupted("gain", 3), clip() * 10 ** (-20 / 20), rtol=1e-6)


def test_loudness_rides_the_level_to_its_target() -> None:
    """On a 12-s clip whose second half is 20 dB louder, loudnorm evens the halves out (dynamic mode), and
    the broadcast and streaming targets (-23 and -14 LUFS) come out about 9 dB apart."""
    def level_db(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2)))
    rng = np.random.default_rng(3)
    x = np.concatenate([voiced(6.0, rng) * 0.03, voiced(6.0, rng) * 0.3]).astype(np.float32)
    quiet, loud = slice(RATE, 6 * RATE), slice(7 * RATE, 12 * RATE)
    assert level_db(x[loud]) - level_db(x[quiet]) == pytest.approx(20.0, abs=1.0)
    broadcast, streaming = (apply_corruption(x, RATE, "loudness", s, SEED) for s in (1, 3))
    for out in (broadcast, streaming):
        assert out.shape == x.shape and abs(level_db(out[loud]) - level_db(out[quiet])) < 3.0
    assert level_db(streaming[loud]) - level_db(broadcast[loud]) == pytest.approx(9.0, abs=1.5)
    assert np.max(np.abs(streaming)) <= 10 ** (-1 / 20) + 0.01  # the -1 dBTP limiter (sample peak here)
    with pytest.raises(SignalError, match="target loudness"):
        loudness_normalise(x, RATE, target_lufs=0.0, range_lu=7.0)


def test_pool_clips_are_the_background() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.2 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out = apply_corruption(clip(), RATE, "music", 5, SEED, pool=[tone])
    power = np.abs(np.fft.rfft(out.astype(np.float64) - clip())) ** 2  # 1 Hz bins: a 1 s clip
    assert power[995:1006].sum() > 0.99 * power.sum()  # what was added is the pool's 1 kHz tone
    babble = apply_corruption(clip(), RATE, "babble", 3, SEED, pool=[tone, clip()[::-1].copy()])
    assert not np.array_equal(babble, corrupted("babble", 3))  # the pool, not the synthetic talkers
    # An empty pool means the documented synthetic fallback, identical to no pool.
    np.testing.assert_array_equal(apply_corruption(clip(), RATE, "music", 2, SEED, pool=[]),
                                  corrupted("music", 2))


@pytest.mark.parametrize("name", [_param(n) for n in ("telephone-band", "resample", "mp3", "opus", "gsm",
                                                       "g722", "reverb", "time-stretch", "babble",
                                                       "loudness")])
@pytest.mark.parametrize("rate", [8000, 44100])
def test_other_sample_rates(name: str, rate: int) -> None:
    x = voiced(0.5, np.random.default_rng(1), rate=rate)
    out = apply_corruption(x, rate, name, CORRUPTIONS[name].severities, SEED)
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    if CORRUPTIONS[name].preserves_length:
        assert out.shape == x.shape


def test_silence_and_empty_input() -> None:
    silence = np.zeros(RATE // 2, dtype=np.float32)
    np.testing.assert_array_equal(apply_corruption(silence, RATE, "white-noise", 5, 0), silence)
    assert apply_corruption(np.zeros(0, dtype=np.float32), RATE, "mp3", 1, 0).shape == (0,)


def test_errors_are_clear() -> None:
    with pytest.raises(CorruptionError, match=r"unknown corruption 'mp4'.*white-noise.*mp3-aac"):
        apply_corruption(clip(), RATE, "mp4", 1, 0)
    with pytest.raises(ValueError, match=r"severities 1\.\.5, got 6"):
        apply_corruption(clip(), RATE, "mp3", 6, 0)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(CorruptionError, match="severities 1..5"):
            CORRUPTIONS["white-noise"].parameters(bad)
    with pytest.raises(CorruptionError, match=r"unknown corruption family 'codec'.*compression"):
        corruption_names("codec")
    with pytest.raises(CorruptionError, match="1-D mono"):
        apply_corruption(np.zeros((2, 100), np.float32), RATE, "gain", 1, 0)
    with pytest.raises(CorruptionError, match="float waveform"):
        apply_corruption(np.zeros(100, np.int16), RATE, "gain", 1, 0)
    with pytest.raises(CorruptionError, match="NaN"):
        apply_corruption(np.full(100, np.nan, np.float32), RATE, "gain", 1, 0)
    with pytest.raises(CorruptionError, match="sample_rate"):
        apply_corruption(clip(), 100, "gain", 1, 0)
    with pytest.raises(CorruptionError, match="pool clip #1"):
        apply_corruption(clip(), RATE, "babble", 1, 0, pool=[clip(), np.zeros(10, np.float32)])


def test_reference_doc_matches_the_registry() -> None:
    doc = (REPO / "docs" / "corruptions.md").read_text(encoding="utf-8")
    assert doc == markdown_table(CORRUPTIONS), "docs/corruptions.md is stale: run scripts/corruption_table.py"
    printed = subprocess.run([sys.executable, str(REPO / "scripts" / "corruption_table.py"), "--stdout"],
                             capture_output=True, text=True, check=True).stdout
    assert printed == doc
    for name in CORRUPTIONS:
        assert f"### `{name}`" in doc


def test_clipping_a_mostly_silent_clip_keeps_its_audible_part():
    # 80% digital silence: a quantile over all samples would be 0 and wipe the clip out.
    rate = 16000
    t = np.arange(rate) / rate
    wave = np.zeros(5 * rate, dtype=np.float32)
    wave[:rate] = 0.5 * np.sin(2 * np.pi * 220 * t)
    for severity in range(1, CORRUPTIONS["clipping"].severities + 1):
        out = apply_corruption(wave, rate, "clipping", severity, seed=0)
        assert np.abs(out[:rate]).max() > 0.05
        assert np.abs(out[:rate]).max() < 0.5
