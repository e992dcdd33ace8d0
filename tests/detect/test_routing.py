"""``--model auto``: the content classifier cuts a file into speech, music and noise, and each part goes to
the detector of its kind (unmask.detect.content, unmask.detect.routing)."""

from __future__ import annotations

import subprocess
from pathlib import Path

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


def test_a_file_of_noise_only_is_judged_whole_by_the_speech_detector_and_says_why(routed):
    """Noisy speech on a bad line is heard as noise: routing must not lose the verdict a one-model scan
    gives it, so the speech detector judges the whole file and the one part says why."""
    hiss = _noise(10, 1)
    result = routed.scan_waveform(hiss, RATE, name="hiss.wav")
    speech = routed.detectors["speech"].scan_waveform(hiss, RATE)
    assert result.ok and result.fake_probability == pytest.approx(speech.fake_probability)
    [part] = result.parts
    assert (part.content, part.model, part.start_s, part.end_s) == ("noise", "lcnn", 0.0, 10.0)
    assert "judged whole by the speech detector" in part.note and "noise 0-10 s" in part.note
    assert [w.start_s for w in result.timeline] == [w.start_s for w in speech.timeline]


def test_music_too_short_for_the_music_model_is_judged_whole_by_the_speech_detector(routed):
    result = routed.scan_waveform(_music(4, 3), RATE, name="jingle.wav")  # 4 s < the music model's 5 s
    [part] = result.parts
    assert result.ok and part.model == "lcnn" and part.content == "music"
    assert "too short" in part.note and "judged whole by the speech detector" in part.note


def test_a_silent_file_stays_an_error_row(routed):
    result = routed.scan_waveform(np.zeros(8 * RATE, dtype=np.float32), RATE, name="silent.wav")
    assert result.verdict == "error" and "no audible content" in result.error


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
    assert result.parts[1].start_s == pytest.approx(15.0, abs=1.0)
    # the offset is added once: the first window starts where the segment does, the last ends in it
    assert min(w.start_s for w in result.timeline) == pytest.approx(5.0)
    assert max(w.end_s for w in result.timeline) <= 27.0 + 1e-6


def test_a_segment_no_detector_can_judge_is_judged_whole_and_in_place(routed, tmp_path):
    """The whole-file fallback judges the stretch routed, not the file from its start."""
    from unmask.detect.pipeline import Segment
    from unmask.io import save_audio

    wave = np.concatenate([real_speech(10.0, tmp_path), _noise(10, 4)])
    path = save_audio(tmp_path / "call.flac", wave, RATE)
    result = routed.scan(Segment(path, 10.0, 20.0))  # the noise only
    speech = routed.detectors["speech"].scan(Segment(path, 10.0, 20.0))
    [part] = result.parts
    assert (part.start_s, part.end_s, part.model) == (10.0, 20.0, "lcnn")
    assert "noise 10-20 s" in part.note
    assert result.fake_probability == pytest.approx(speech.fake_probability)
    assert [w.start_s for w in result.timeline] == [w.start_s for w in speech.timeline]
    assert min(w.start_s for w in result.timeline) == pytest.approx(10.0)


def test_the_last_part_runs_to_the_end_of_the_audio(routed, tmp_path):
    """A last fraction of a second too short for a label of its own belongs to the part before."""
    wave = real_speech(10.4, tmp_path)[: int(10.4 * RATE)]
    result = routed.scan_waveform(wave, RATE, name="speech.wav")
    assert result.parts[-1].end_s == pytest.approx(len(wave) / RATE)


@pytest.mark.parametrize(("start", "end"), [(5.0, 5.0), (6.0, 5.0), (-1.0, 3.0)])
def test_an_empty_or_inverted_segment_is_refused_with_its_bounds(start, end):
    from unmask.detect.pipeline import Segment

    with pytest.raises(ValueError, match="segment"):
        Segment("a.flac", start, end)


@pytest.mark.parametrize("suffix", [".flac", ".mp3"])
def test_a_routed_file_scan_is_streamed_and_matches_the_in_memory_scan(routed, tmp_path, monkeypatch, suffix):
    """The file is read in chunks and windows, never whole: load_audio is not called, and the parts,
    score and timeline are those of routing the decoded waveform. An MP3, which cannot seek to the
    sample, is decoded once (its parts read the spooled audio), a FLAC once more per part."""
    import unmask.io.decode
    from unmask.io import load_audio, save_audio

    speech = real_speech(10.0, tmp_path)
    wave = np.concatenate([speech, _music(12, 6), _noise(5, 2), speech])
    path = save_audio(tmp_path / "mix.flac", wave, RATE)
    if suffix == ".mp3":
        path = tmp_path / "mix.mp3"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(tmp_path / "mix.flac"), "-b:a", "96k",
                        str(path)], check=True)
    expected = routed.scan_waveform(load_audio(path, RATE), RATE, name=str(path))

    def whole_file_read(*args, **kwargs):
        raise AssertionError("a routed file scan must not decode the whole file into memory")

    decoded = []
    real_decode = unmask.io.decode.decode_mono

    def counting_decode(source, *args, **kwargs):
        decoded.append(Path(source))
        return real_decode(source, *args, **kwargs)

    monkeypatch.setattr("unmask.io.audio.load_audio", whole_file_read)
    monkeypatch.setattr("unmask.detect.pipeline.load_audio", whole_file_read)
    monkeypatch.setattr("unmask.io.stream.decode_mono", counting_decode)
    result = routed.scan(path)
    judged = sum(p.model is not None for p in result.parts)
    assert judged >= 2 and decoded.count(path) == (1 if suffix == ".mp3" else 1 + judged)
    assert result.path == str(path) and all(w.start_s >= 0 for w in result.timeline)
    assert result.parts == expected.parts
    assert result.fake_probability == pytest.approx(expected.fake_probability, abs=1e-6)
    spans = [(w.start_s, w.end_s) for w in expected.timeline]
    assert [(w.start_s, w.end_s) for w in result.timeline] == spans
    assert [w.fake_probability for w in result.timeline] == pytest.approx(
        [w.fake_probability for w in expected.timeline], abs=1e-5)


@pytest.mark.parametrize("chunk_s", [1.0, 2.5, 7.0])
def test_parts_of_chunks_are_the_parts_of_the_whole_wave(classifier, tmp_path, chunk_s):
    from unmask.io import iter_chunks, save_audio

    wave = np.concatenate([real_speech(7.3, tmp_path), _music(9, 4), _noise(5, 3)])[: int(20.6 * RATE)]
    path = save_audio(tmp_path / "mix.flac", wave, RATE)
    parts, duration = classifier.parts_of_chunks(iter_chunks(path, RATE, chunk_s))
    assert parts == classifier.parts(wave) and duration == pytest.approx(20.6)
    short = wave[: int(20.3 * RATE)]  # a last frame under half a second is dropped, as in parts()
    assert classifier.parts_of_chunks(np.array_split(short, 7))[0] == classifier.parts(short)


def test_noise_and_silence_next_to_speech_join_the_speech_part():
    from unmask.detect.content import Part
    from unmask.detect.routing import speech_with_its_pauses

    parts = [Part(0, 2, "silence"), Part(2, 9, "speech"), Part(9, 13, "noise"), Part(13, 20, "speech"),
             Part(20, 24, "noise"), Part(24, 60, "music"), Part(60, 64, "noise"), Part(64, 90, "music"),
             Part(90, 95, "silence")]
    assert speech_with_its_pauses(parts) == [
        Part(0, 24, "speech"), Part(24, 60, "music"), Part(60, 64, "noise"), Part(64, 90, "music"),
        Part(90, 95, "silence")]
    no_speech = [Part(0, 5, "noise"), Part(5, 9, "silence")]
    assert speech_with_its_pauses(no_speech) == no_speech


def test_a_speech_file_with_pauses_gets_the_score_of_a_one_model_scan(routed, tmp_path):
    speech = real_speech(10.0, tmp_path)
    wave = np.concatenate([np.zeros(2 * RATE, np.float32), speech, _noise(4, 7), speech[: 5 * RATE]])
    result = routed.scan_waveform(wave, RATE)
    alone = routed.detectors["speech"].scan_waveform(wave, RATE)
    assert [(p.content, p.start_s, p.end_s) for p in result.parts] == [("speech", 0.0, 21.0)]
    assert result.fake_probability == pytest.approx(alone.fake_probability, abs=1e-6)
