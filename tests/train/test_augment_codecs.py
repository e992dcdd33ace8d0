"""Codec round-trips through PyAV: every codec this build can encode, re-aligned to the input.

Codecs missing from the PyAV wheel are skipped with the reason (and the error a config asking for one
gets is tested with a simulated missing encoder). The fixture is a synthetic voiced utterance (pulse
train with a gliding pitch through formant resonators, plus a chirp and noise): speech codecs such as
AMR-NB model pitch and formants, not arbitrary waveforms, so a harmonic-series test tone would tell us
little about them. Real speech clips from ../shared are used when present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from unmask.train.augment import CODECS, AugmentationConfigError, CodecRoundTrip, available_codecs
from unmask.train.augment import codecs as codecs_module
from unmask.train.augment.channel import resample
from unmask.train.augment.codecs import align, codec_delay, encode_decode, estimate_delay

RATE = 16000

SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "realworld-dev" / "speech" / "real"


def _codec_param(name: str):
    reason = f"this PyAV build has no {CODECS[name].encoder} encoder for {name}"
    return pytest.param(name, marks=pytest.mark.skipif(name not in available_codecs(), reason=reason))


def voiced(seconds: float = 2.0, rate: int = RATE) -> np.ndarray:
    """Pulse train (pitch gliding 170-230 Hz) through formants at 500/1700/2800 Hz, 4 Hz syllables,
    a quiet 200->3000 Hz chirp and white noise 40 dB down; peak 0.6."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 200.0 + 30.0 * np.sin(2 * np.pi * 0.8 * t)
    wave = signal.lfilter([1.0], [1.0, -0.9], np.diff(np.floor(np.cumsum(pitch / rate)), prepend=0.0))
    for centre, bandwidth in ((500, 90), (1700, 130), (2800, 180)):
        radius, angle = np.exp(-np.pi * bandwidth / rate), 2 * np.pi * centre / rate
        wave = signal.lfilter([1 - radius], [1.0, -2 * radius * np.cos(angle), radius**2], wave)
    wave = wave / np.std(wave) * (0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 2.0 * t)))
    wave += 0.1 * signal.chirp(t, f0=200, t1=seconds, f1=3000)
    wave += 0.01 * np.random.default_rng(0).standard_normal(t.shape)
    return (0.6 * wave / np.max(np.abs(wave))).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64), b.astype(np.float64))[0, 1])


def band_energy(x: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    freqs, psd = signal.welch(x.astype(np.float64), fs=rate, nperseg=1024)
    return float(np.sum(psd[(freqs >= low) & (freqs <= high)]))


@pytest.fixture(scope="module")
def wave() -> np.ndarray:
    return voiced()


@pytest.mark.parametrize("name", [_codec_param(n) for n in CODECS])
def test_codec_round_trip_is_aligned_close_and_not_identical(name: str, wave: np.ndarray) -> None:
    aug = CodecRoundTrip(codecs=[name])
    # The lowest and highest bitrate of each codec (two seeds draw different ones for multi-rate codecs).
    for bitrate in {CODECS[name].bitrates[0], CODECS[name].bitrates[-1]}:
        fixed = CodecRoundTrip(codecs=[name], bitrates={name: [bitrate]} if bitrate else None)
        out = fixed(wave, np.random.default_rng(0))
        assert out.dtype == np.float32 and out.shape == wave.shape and np.all(np.isfinite(out))
        assert np.max(np.abs(out)) <= 1.0
        assert correlation(out, wave) > 0.8, (name, bitrate)
        assert np.max(np.abs(out - wave)) > 1e-3  # lossy: not the input
        assert abs(estimate_delay(wave.astype(float), out.astype(float), 4000)) <= 1, (name, bitrate)
    np.testing.assert_array_equal(aug(wave, np.random.default_rng(3)), aug(wave, np.random.default_rng(3)))


@pytest.mark.skipif("opus" not in available_codecs(), reason="this PyAV build has no libopus encoder")
@pytest.mark.parametrize("opus_rate", [8000, 16000, 48000])
def test_opus_at_each_rate(opus_rate: int, wave: np.ndarray) -> None:
    out = CodecRoundTrip(codecs=["opus"], opus_rates=[opus_rate], bitrates={"opus": [24000]})(
        wave, np.random.default_rng(0))
    assert correlation(out, wave) > 0.8
    assert abs(estimate_delay(wave.astype(float), out.astype(float), 4000)) <= 1


def test_narrowband_codecs_remove_the_upper_band(wave: np.ndarray) -> None:
    narrow = [n for n in ("mulaw", "alaw", "amr_nb") if n in available_codecs()]
    if not narrow:
        pytest.skip("this PyAV build has none of the 8 kHz codecs (G.711, AMR-NB)")
    for name in narrow:
        out = CodecRoundTrip(codecs=[name])(wave, np.random.default_rng(0))
        assert band_energy(out, 4300, 8000) < 1e-2 * band_energy(wave, 4300, 8000), name


def test_calibrated_delay_matches_the_delay_on_this_input(wave: np.ndarray) -> None:
    x = wave.astype(float)
    for name in [n for n in ("aac", "g722", "amr_nb", "opus") if n in available_codecs()]:
        spec = CODECS[name]
        rate = 8000 if name == "amr_nb" else 16000
        decoded = encode_decode(resample(x, RATE, rate), rate, spec, spec.bitrates[-1], RATE)
        measured = estimate_delay(x, decoded, 4000)
        assert abs(measured - codec_delay(name, rate, spec.bitrates[-1], RATE, 4000)) <= 1, name
    assert codec_delay("aac", 16000, 32000, RATE, 4000) == 1024  # FFmpeg's AAC priming, kept by ADTS
    per_call = CodecRoundTrip(codecs=["g722"], alignment="per_call")(wave, np.random.default_rng(0))
    assert abs(estimate_delay(x, per_call.astype(float), 4000)) <= 1


def test_align_removes_a_known_delay(wave: np.ndarray) -> None:
    x = wave.astype(float)
    delayed = np.concatenate([np.zeros(321), x, np.zeros(50)])
    assert estimate_delay(x, delayed, 1000) == 321
    np.testing.assert_array_equal(align(x, delayed, 1000), x)
    early = x[100:]
    assert estimate_delay(x, early, 1000) == -100
    np.testing.assert_array_equal(align(x, early, 1000)[100:], x[100:])
    assert estimate_delay(x, np.zeros_like(x), 1000) == 0


def test_missing_encoder_is_reported_and_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a PyAV wheel without the AMR-NB encoder (the one most often absent from FFmpeg builds).
    real = codecs_module._has_encoder
    monkeypatch.setattr(codecs_module, "_has_encoder", lambda enc: enc != "libopencore_amrnb" and real(enc))
    default = CodecRoundTrip()
    assert "amr_nb" not in default.codecs and default.unavailable == ("amr_nb",)
    with pytest.raises(AugmentationConfigError, match=r"no encoder for \['amr_nb'\] \(libopencore_amrnb\)"):
        CodecRoundTrip(codecs=["mp3", "amr_nb"])


def test_codec_settings_are_checked() -> None:
    with pytest.raises(AugmentationConfigError, match="unknown codec"):
        CodecRoundTrip(codecs=["wma"])
    with pytest.raises(AugmentationConfigError, match="Opus cannot run at"):
        CodecRoundTrip(opus_rates=[44100])
    with pytest.raises(AugmentationConfigError, match="unknown codec"):
        CodecRoundTrip(bitrates={"flac": [1]})


@pytest.mark.shared
def test_codecs_on_real_speech() -> None:
    clips = sorted(SHARED_SPEECH.glob("*/*.flac"))
    if not clips:
        pytest.skip(f"no real speech clips under {SHARED_SPEECH} (the ../shared realworld-dev set is absent)")
    for clip in clips[:: max(1, len(clips) // 3)][:3]:
        data, rate = sf.read(clip, dtype="float32", always_2d=True)
        speech = resample(data.mean(axis=1).astype(float), rate, RATE)[: 4 * RATE].astype(np.float32)
        for name in available_codecs():
            out = CodecRoundTrip(codecs=[name])(speech, np.random.default_rng(1))
            # AMR-NB (CELP) keeps the spectral envelope and pitch rather than the waveform: on real
            # speech its sample correlation is ~0.65-0.85, so it gets a looser bound than the others.
            assert correlation(out, speech) > (0.6 if name == "amr_nb" else 0.8), (clip.name, name)
            assert np.max(np.abs(out - speech)) > 1e-4, (clip.name, name)
            assert abs(estimate_delay(speech.astype(float), out.astype(float), 4000)) <= 8, (clip.name, name)
