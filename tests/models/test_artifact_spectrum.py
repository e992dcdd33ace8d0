"""artifact-spectrum on generated songs: decoder-like ripple is found, on held-out songs and for a decoder
it never saw, whatever the level."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from unmask.errors import UnmaskError
from unmask.models.artifact_spectrum import ArtifactSpectrum

RATE, SECONDS = 16000, 8.0


def _song(seed: int) -> np.ndarray:
    """Notes with harmonics, vibrato and a noise floor: a different tune per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * SECONDS)) / RATE
    notes = rng.choice(110.0 * 2 ** (np.arange(24) / 12), size=int(SECONDS * 4) + 1)
    f0 = notes[(t * 4).astype(int)] * (1 + 0.003 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    wave = sum(rng.uniform(0.1, 0.4) / k * np.sin(k * phase) for k in range(1, 9))
    return (wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _decoded(wave: np.ndarray, period: int, seed: int) -> np.ndarray:
    """What an upsampling layer of stride ``period`` leaves: a gain pattern repeating every ``period``
    samples (the checkerboard of a transposed convolution), i.e. spectral copies fs / period apart."""
    pattern = np.random.default_rng(seed).uniform(-1, 1, period)
    return (wave * (1 + 0.08 * np.resize(pattern, len(wave)))).astype(np.float32)


def _model() -> ArtifactSpectrum:
    return ArtifactSpectrum({"window_s": SECONDS, "C": 0.1}).eval()


def _scores(model: ArtifactSpectrum, waves: list[np.ndarray]) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(np.stack(waves))).numpy()


@pytest.fixture(scope="module")
def fitted() -> ArtifactSpectrum:
    model = _model()
    reals = [_song(s) for s in range(24)]
    fakes = [_decoded(_song(100 + s), period=64, seed=s) for s in range(24)]
    model.fit_windows(iter([(np.stack(reals + fakes), np.r_[np.zeros(24), np.ones(24)])]))
    return model


def test_ripple_of_a_decoder_is_found_on_songs_it_never_saw(fitted):
    reals = [_song(1000 + s) for s in range(12)]
    fakes = [_decoded(_song(2000 + s), period=64, seed=50 + s) for s in range(12)]
    scores = _scores(fitted, reals + fakes)
    assert roc_auc_score(np.r_[np.zeros(12), np.ones(12)], scores) > 0.95


def test_a_decoder_with_another_stride_is_found_too(fitted):
    # the features are the ripple's regularity, not its frequencies: a stride-50 decoder's copies sit
    # elsewhere (every 320 Hz instead of 250 Hz), yet it still ripples regularly
    reals = [_song(3000 + s) for s in range(12)]
    fakes = [_decoded(_song(4000 + s), period=50, seed=80 + s) for s in range(12)]
    scores = _scores(fitted, reals + fakes)
    assert roc_auc_score(np.r_[np.zeros(12), np.ones(12)], scores) > 0.8


def test_level_does_not_change_the_score_and_silence_is_finite(fitted):
    wave = _decoded(_song(7), period=64, seed=3)
    loud, quiet = _scores(fitted, [wave, 0.05 * wave])
    assert abs(loud - quiet) < 1e-2 * max(1.0, abs(loud))
    assert np.isfinite(_scores(fitted, [np.zeros_like(wave)])).all()


def test_an_unfitted_model_refuses_to_score():
    with pytest.raises(UnmaskError, match="not been fitted"):
        _scores(_model(), [_song(0)])


def test_one_class_cannot_be_fitted():
    with pytest.raises(UnmaskError, match="real .0. and fake .1."):
        _model().fit_features(np.zeros((4, _model().n_features)), np.zeros(4))


def _groups(model: ArtifactSpectrum, wave: np.ndarray) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        feats = model.features(torch.from_numpy(wave)[None])[0].numpy()
    sizes = {name: model.group_sizes[name] for name in model.groups}
    edges = np.cumsum([0, *sizes.values()])
    return {name: feats[a:b] for name, a, b in zip(sizes, edges[:-1], edges[1:], strict=True)}


def _with_persistence() -> ArtifactSpectrum:
    """The opt-in group 5 beside the default four."""
    return ArtifactSpectrum({"window_s": SECONDS, "groups": list(ArtifactSpectrum.GROUPS), "experts": None})


def test_the_five_feature_groups_have_their_sizes_and_are_finite():
    assert "persistence" not in _model().groups  # opt-in: it did not help on the music pool
    model = _with_persistence()
    groups = _groups(model, _song(5))
    assert list(groups) == list(ArtifactSpectrum.GROUPS)
    assert sum(len(g) for g in groups.values()) == model.n_features
    assert (len(groups["lags"]), len(groups["cyclic"])) == (256, 128)  # 16384- and 4096-point ripples
    assert (len(groups["summaries"]), len(groups["stability"]), len(groups["persistence"])) == (11, 3, 9)
    for wave in (_song(5), np.zeros(int(RATE * SECONDS), dtype=np.float32)):
        assert all(np.isfinite(g).all() for g in _groups(model, wave).values())
    default = _model()
    with torch.inference_mode():  # the default groups are the same columns with or without group 5
        both = model.features(torch.from_numpy(_song(5))[None])
        torch.testing.assert_close(default.features(torch.from_numpy(_song(5))[None]),
                                   both[:, model.columns_of(default.groups)])


def test_a_comb_that_stays_put_is_more_stable_than_the_music_under_it():
    """Group 4: the ripple of a fixed comb (what a decoder adds) is alike in every part of the window;
    the ripple of moving notes is not."""
    model = _model()
    rng = np.random.default_rng(0)
    song = _song(11)
    noise = rng.standard_normal(len(song))
    comb = noise[:-40] + noise[40:]  # a feed-forward comb: peaks every 400 Hz, wherever the music is
    combed = (0.2 * song[:-40] + 0.5 * comb).astype(np.float32)
    song_stability = _groups(model, song)["stability"]
    comb_stability = _groups(model, combed)["stability"]
    assert comb_stability[0] > song_stability[0] + 0.2  # mean correlation between the parts' ripples
    assert comb_stability[1] > song_stability[1]  # and the lowest


def _held_chord(seed: int) -> np.ndarray:
    """Three notes held for the whole window, 29 partials each fading as 1/k^2: a synthesiser pad, the
    real music the detector most often calls fake."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * SECONDS)) / RATE
    notes = rng.choice(110.0 * 2 ** (np.arange(24) / 12), size=3)
    wave = sum(np.sin(2 * np.pi * k * f * t + rng.uniform(0, 2 * np.pi)) / k**2
               for f in notes for k in range(1, 30))
    return (0.1 * wave + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("seed", range(3))
def test_a_comb_over_the_whole_band_persists_and_a_held_chord_does_not(seed):
    """Group 5: a decoder-like comb (peaks every 400 Hz, as deep at 7 kHz as at 1 kHz) shows its spacing
    in every quarter of the band, with the ripple as strong at the top as at the bottom. A held chord
    also ripples regularly, but its partials fade up the band."""
    model = _with_persistence()
    song = _song(seed)
    noise = np.random.default_rng(seed).standard_normal(len(song))
    combed = np.pad(0.2 * song[:-40] + 0.05 * (noise[:-40] + noise[40:]), (0, 40)).astype(np.float32)
    comb, chord = _groups(model, combed)["persistence"], _groups(model, _held_chord(seed))["persistence"]
    assert comb[0] > chord[0] + 2.0  # the shared spacing's prominence in the weakest quarter of the band
    assert comb[4] > chord[4]  # and in the weakest eighth of the window
    assert abs(comb[7]) < 0.3 < abs(chord[7])  # the top quarter's ripple against the bottom's (log)


def test_the_summaries_see_where_the_power_is():
    """Group 3's last four: the share of power above 25/50/75/90% of the band falls when the top is cut."""
    model = _model()
    wave = np.random.default_rng(1).standard_normal(int(RATE * SECONDS)).astype(np.float32)
    spectrum = np.fft.rfft(wave)
    spectrum[len(spectrum) // 2 :] *= 0.01  # -40 dB above 4 kHz
    dull = np.fft.irfft(spectrum, len(wave)).astype(np.float32)
    bright_share, dull_share = _groups(model, wave)["summaries"][-4:], _groups(model, dull)["summaries"][-4:]
    assert bright_share[1] == pytest.approx(np.log(0.5), abs=0.05)  # white noise: half the power above
    assert (dull_share[1:] < bright_share[1:] - 2.0).all()


def test_the_experts_logit_is_the_mean_of_their_own_and_they_must_read_held_groups():
    """Two experts (every group; summaries and stability only) fitted together give the mean
    of the two fitted alone: one weight vector, zero where an expert does not look."""
    rng = np.random.default_rng(5)
    model = ArtifactSpectrum({})
    feats = rng.standard_normal((80, model.n_features))
    targets = np.r_[np.zeros(40), np.ones(40)].astype(int)
    feats[targets == 1, -14:] += 0.8
    model.fit_features(feats, targets)
    alone = []
    for groups in model.experts:
        expert = ArtifactSpectrum({"experts": [list(groups)]})
        expert.fit_features(feats, targets)
        alone.append((expert.weight.numpy(), float(expert.bias)))
    torch.testing.assert_close(model.weight, torch.as_tensor((alone[0][0] + alone[1][0]) / 2))
    assert float(model.bias) == pytest.approx((alone[0][1] + alone[1][1]) / 2, abs=1e-6)
    assert np.all(alone[1][0][: model.n_lags + model.n_cyclic] == 0)  # the position-free expert
    with pytest.raises(ValueError, match="subset of the groups"):
        ArtifactSpectrum({"groups": ["lags"], "experts": [["lags", "stability"]]})


def test_a_strided_running_median_gives_the_same_ripple_on_a_smooth_envelope():
    """The persistence group takes its eight segment ripples' medians at every 8th bin only."""
    bins = np.arange(8193)
    envelope = -3.0 * np.log1p(bins / 500.0) + 0.5 * np.sin(bins / 900.0)
    comb = 0.3 * (bins % 25 == 0)  # peaks every 25 bins: a decoder's lines
    log_spectrum = torch.as_tensor(envelope + comb, dtype=torch.float32)[None]
    exact = ArtifactSpectrum.ripple(log_spectrum, 127)
    strided = ArtifactSpectrum.ripple(log_spectrum, 127, step=8)
    # within half a median window of the bottom edge the replicated padding makes the exact median step
    assert torch.allclose(exact[:, 128:], strided[:, 128:], atol=0.01)
    assert float(strided[0, bins % 25 == 0].mean()) == pytest.approx(0.3, abs=0.02)
