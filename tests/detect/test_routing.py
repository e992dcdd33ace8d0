"""``--model auto``: the content classifier cuts a file into speech, music and noise, and each part goes to
the detector of its kind (unmask.detect.content, unmask.detect.routing)."""

from __future__ import annotations

import numpy as np
import pytest

from routing_fixtures import RATE, fit_classifier, tiny_routed
from routing_fixtures import music as _music
from routing_fixtures import noise as _noise
from routing_fixtures import tiny_detector as _detector
from speech_clips import real_speech
from unmask.detect.content import ContentClassifier, _merge_short
from unmask.detect.routing import RoutedDetector


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> ContentClassifier:
    return fit_classifier(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="module")
def routed(classifier) -> RoutedDetector:
    return tiny_routed(classifier)


def test_a_saved_classifier_loads_with_the_same_labels(classifier, tmp_path):
    classifier.save(tmp_path / "content.npz")
    loaded = ContentClassifier.load(tmp_path / "content.npz")
    wave = np.concatenate([_music(5, 9), _noise(5, 8)])
    assert loaded.frame_labels(wave) == classifier.frame_labels(wave)
    assert loaded.classes == classifier.classes and loaded.min_part_s == classifier.min_part_s


def test_speech_then_music_then_noise_go_to_their_own_detectors(routed, tmp_path):
    speech = real_speech(12.0, tmp_path)
    wave = np.concatenate([speech, _music(12, 7), _noise(6, 5), np.zeros(3 * RATE, dtype=np.float32)])
    result = routed.scan_waveform(wave, RATE, name="mix.wav")
    contents = [(p.content, p.model) for p in result.parts]
    assert contents == [("speech", "lcnn"), ("music", "spectttra"), ("noise", None), ("silence", None)]
    speech_part, music_part = result.parts[0], result.parts[1]
    assert speech_part.end_s == pytest.approx(12.0, abs=1.0)
    assert music_part.end_s == pytest.approx(24.0, abs=1.0)
    judged = [p.fake_probability for p in result.parts if p.fake_probability is not None]
    assert result.fake_probability == max(judged) and len(judged) == 2
    assert result.verdict == routed.settings.thresholds.verdict(result.fake_probability)
    for window in result.timeline:  # every window lies in a judged part
        assert any(p.start_s <= window.start_s < p.end_s for p in result.parts[:2])
    assert result.parts[2].fake_probability is None  # noise carries no evidence either way


def test_a_file_of_noise_only_is_an_error_row_not_a_verdict(routed):
    result = routed.scan_waveform(_noise(10, 1), RATE, name="hiss.wav")
    assert result.verdict == "error" and "nothing here could be judged (found noise)" in result.error
    assert [p.content for p in result.parts] == ["noise"]


def test_a_part_too_short_for_its_model_is_said_not_scored(routed, tmp_path):
    wave = np.concatenate([real_speech(10.0, tmp_path), _music(4, 3)])  # 4 s < the music model's 5 s
    result = routed.scan_waveform(wave, RATE)
    music = [p for p in result.parts if p.content == "music"]
    assert music and music[0].fake_probability is None and "too short" in music[0].note
    assert result.fake_probability == result.parts[0].fake_probability


def test_windows_cannot_be_set_for_a_routed_scan_but_file_settings_reach_every_detector(routed):
    assert routed.with_settings(window_s=None, hop_s=None) is routed
    with pytest.raises(Exception, match="cannot be set with --model auto"):
        routed.with_settings(window_s=2.0)
    from unmask.detect.result import Thresholds
    from unmask.io import MediaLimits

    limits, thresholds = MediaLimits(max_duration_s=60.0), Thresholds(real_below=0.2, fake_at_or_above=0.9)
    changed = routed.with_settings(limits=limits, thresholds=thresholds)
    assert all(d.settings.limits == limits and d.settings.thresholds == thresholds
               for d in changed.detectors.values())
    assert changed.window_s == routed.window_s
    assert changed.architecture == "auto: speech=lcnn, music=spectttra"
    assert set(changed.card) == {"speech", "music"}


def test_short_runs_fold_into_their_longer_neighbour():
    runs = [(0, 10, "speech"), (10, 11, "music"), (11, 20, "speech"), (20, 40, "music")]
    assert _merge_short(runs, 3) == [(0, 20, "speech"), (20, 40, "music")]
    assert _merge_short([(0, 2, "noise")], 3) == [(0, 2, "noise")]


def test_without_a_music_detector_music_is_found_and_said_not_judged(classifier, tmp_path):
    speech = _detector("lcnn", {"channels": [4, 4], "window_s": 2.0})
    routed = RoutedDetector({"speech": speech}, classifier)
    result = routed.scan_waveform(np.concatenate([real_speech(8.0, tmp_path), _music(12, 2)]), RATE)
    music = [p for p in result.parts if p.content == "music"]
    assert music and music[0].model is None and "no music detector installed" in music[0].note
    assert result.fake_probability == result.parts[0].fake_probability  # the speech part alone
    only_music = routed.scan_waveform(_music(12, 4), RATE, name="song.wav")
    assert only_music.verdict == "error" and "no music detector is installed" in only_music.error


def test_the_bundled_music_model_judges_music_parts_by_default(tmp_path):
    """``RoutedDetector.load()`` with no music model given: music goes to the bundled ``music`` model
    (artifact-spectrum), which carries its study in its card."""
    routed = RoutedDetector.load(device="cpu")
    assert routed.detectors["music"].architecture == "artifact-spectrum"
    study = routed.card["music"]["study"]
    assert 0 < study["pooled_eer"] < 0.5 and "family:ace-step" in study["folds"]
    song = np.concatenate([real_speech(6.0, tmp_path), _music(30, 11)])
    result = routed.scan_waveform(song, RATE, name="intro-then-song.wav")
    music = [p for p in result.parts if p.content == "music"]
    assert music and music[0].model == "music" and 0.0 <= music[0].fake_probability <= 1.0
    assert result.verdict != "error"


def test_a_segment_is_routed_alone_with_times_from_the_files_start(routed, tmp_path):
    from unmask.io import save_audio

    wave = np.concatenate([_noise(5, 2), real_speech(10.0, tmp_path), _music(12, 6)])
    path = save_audio(tmp_path / "long.flac", wave, RATE)
    result = routed.scan_segment(path, 5.0, 27.0)  # the speech and the music, not the noise before
    assert [p.content for p in result.parts] == ["speech", "music"]
    assert result.parts[0].start_s == pytest.approx(5.0)
    assert result.parts[-1].end_s == pytest.approx(27.0, abs=0.5)
    assert all(w.start_s >= 5.0 for w in result.timeline)
    assert result.parts[1].start_s == pytest.approx(15.0, abs=1.0)
