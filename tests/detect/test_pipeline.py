"""The scan pipeline end to end on real files: windows, batching across files, errors, localisation."""

import numpy as np
import pytest
import torch

from audio_fixtures import RATE, voiced
from unmask.detect.calibration import Calibrator
from unmask.detect.pipeline import Detector, ScanSettings
from unmask.errors import UnmaskError
from unmask.io import save_audio
from unmask.models.base import Capabilities, DetectorModel
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model


class LoudnessProbe(DetectorModel):
    """A transparent stand-in model: logit = 40 * (window RMS - 0.1). Loud windows read as "fake",
    so the expected timeline of a test file is known exactly."""

    name = "loudness-probe"
    default_config = {"sample_rate": RATE, "window_s": 1.0}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return 40 * (wave.pow(2).mean(dim=-1).sqrt() - 0.1)


@pytest.fixture
def probe() -> Detector:
    return Detector(LoudnessProbe(), Calibrator(), name="probe")


def _tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_timeline_localises_a_short_loud_segment_and_the_file_score_catches_it(tmp_path, probe):
    wave = np.concatenate([_tone(4, 0.05), _tone(1, 0.5), _tone(5, 0.05)])  # "fake" at 4-5 s
    path = save_audio(tmp_path / "spliced.wav", wave, RATE)
    result = probe.scan(path)
    assert result.ok and result.duration_s == pytest.approx(10.0, abs=0.01)
    peak = result.most_suspicious_window()
    assert 3.5 <= peak.start_s <= 4.0 and peak.end_s <= 5.5
    quiet = [w for w in result.timeline if w.end_s <= 3.5 or w.start_s >= 5.0]
    assert quiet and max(w.fake_probability for w in quiet) < 0.2
    assert result.verdict == "fake"  # one loud window in ten is enough: a mean would have said real
    mean_result = probe.with_settings(aggregation="mean").scan(path)
    assert mean_result.fake_probability < result.fake_probability


def test_windows_cover_the_file_with_the_requested_hop(tmp_path, probe):
    path = save_audio(tmp_path / "a.wav", _tone(3.3, 0.05), RATE)
    result = probe.scan(path)
    starts = [w.start_s for w in result.timeline]
    assert starts[:5] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert result.timeline[-1].end_s == pytest.approx(3.3, abs=1e-3)


def test_batches_span_files_and_results_keep_input_order(tmp_path, probe):
    paths = [
        save_audio(tmp_path / f"{i}.wav", _tone(0.5 + i * 0.7, 0.02 + 0.4 * (i % 2)), RATE) for i in range(7)
    ]
    detector = probe.with_settings(batch_size=3)
    results = list(detector.scan_many(paths))
    assert [r.path for r in results] == [str(p) for p in paths]
    loud = [r.fake_probability > 0.5 for r in results]
    assert loud == [bool(i % 2) for i in range(7)]


def test_bad_inputs_become_error_rows_and_the_rest_are_scored(tmp_path, probe):
    good = save_audio(tmp_path / "good.wav", _tone(2, 0.05), RATE)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    silent = save_audio(tmp_path / "silent.wav", np.zeros(RATE * 2, dtype=np.float32), RATE)
    results = list(probe.scan_many([tmp_path / "missing.flac", text, good, silent]))
    assert [r.verdict for r in results][2] != "error"
    assert [r.ok for r in results] == [False, False, True, False]
    assert "not found" in results[0].error and "missing.flac" in results[0].error
    assert "notes.wav" in results[1].error
    assert "no audible content" in results[3].error


def test_short_clip_is_tiled_to_the_window(tmp_path, probe):
    path = save_audio(tmp_path / "short.wav", _tone(0.6, 0.5), RATE)
    result = probe.scan(path)
    assert len(result.timeline) == 1 and result.timeline[0].end_s == pytest.approx(0.6, abs=1e-3)
    assert result.verdict == "fake"  # tiling keeps the loudness; zero padding would have diluted it


def test_scan_waveform_matches_scanning_the_file(tmp_path):
    model = build_model("lcnn", {"channels": [4, 4], "window_s": 1.0})
    detector = Detector(model, Calibrator())
    wave = voiced(2.5, np.random.default_rng(0))
    path = save_audio(tmp_path / "v.flac", wave, RATE, subtype="PCM_24")
    from_file = detector.scan(path)
    from_array = detector.scan_waveform(wave, RATE)
    assert from_file.fake_probability == pytest.approx(from_array.fake_probability, abs=1e-3)
    with pytest.raises(UnmaskError, match="8000 Hz"):
        detector.scan_waveform(wave, 8000)


def test_load_from_checkpoint_applies_stored_calibration(tmp_path):
    model = build_model("lcnn", {"channels": [4, 4], "window_s": 1.0})
    calibration = Calibrator("platt", scale=0.0, bias=2.0).to_dict()  # constant sigmoid(2)
    save_checkpoint(tmp_path / "m.pt", Checkpoint(model, calibration, {"summary": "test"}, "9"))
    detector = Detector.load(tmp_path / "m.pt", batch_size=4)
    path = save_audio(tmp_path / "v.wav", voiced(1.5, np.random.default_rng(1)), RATE)
    result = detector.scan(path)
    assert result.fake_probability == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert result.model == "m" and result.model_version == "9" and detector.card["summary"] == "test"
    with pytest.raises(UnmaskError, match="unknown model"):
        Detector.load(tmp_path / "nope.pt")


def test_settings_reject_nonsense():
    with pytest.raises(ValueError):
        ScanSettings(window_s=0)
    with pytest.raises(ValueError):
        ScanSettings(batch_size=0)
    with pytest.raises(ValueError, match="must not exceed"):
        Detector(LoudnessProbe(), settings=ScanSettings(window_s=1.0, hop_s=2.0))


def test_scan_segment_scores_only_that_span_with_file_times(tmp_path, probe):
    wave = np.concatenate([_tone(4, 0.05), _tone(1, 0.5), _tone(5, 0.05)])  # loud at 4-5 s
    path = save_audio(tmp_path / "long.wav", wave, RATE)
    quiet = probe.scan_segment(path, 0.0, 3.0)
    loud = probe.scan_segment(path, 3.5, 5.5)
    assert quiet.verdict == "real" and loud.verdict == "fake"
    assert loud.timeline[0].start_s == pytest.approx(3.5) and loud.timeline[-1].end_s == pytest.approx(5.5)
    assert "missing" in probe.scan_segment(tmp_path / "missing.wav", 0, 1).error


def test_public_api_is_importable_from_the_package_root():
    import unmask

    assert unmask.Detector is Detector
    from unmask import ScanResult, Thresholds

    assert ScanResult.__name__ == "ScanResult" and Thresholds().fake_at_or_above == 0.7
    with pytest.raises(AttributeError):
        unmask.NoSuchThing  # noqa: B018


class StripProbe(LoudnessProbe):
    """Scores strips (runs of overlapping windows) through the base-class reference, and counts them.
    Its logit depends on where in the window the energy is, so a wrongly assembled strip shows."""

    name = "strip-probe"
    capabilities = Capabilities(scores_strips=True)

    def __init__(self) -> None:
        super().__init__()
        self.strip_windows: list[int] = []

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        half = wave.shape[-1] // 2
        return 40 * (wave[..., :half].pow(2).mean(-1).sqrt() - 0.5 * wave[..., half:].abs().mean(-1))

    def score_strip(self, strip: torch.Tensor, hop: int) -> torch.Tensor:
        logits = super().score_strip(strip, hop)
        self.strip_windows.append(len(logits))
        return logits


@pytest.mark.parametrize("batch_size", [3, 32])
def test_strip_scoring_gives_the_window_by_window_results(tmp_path, batch_size):
    rng = np.random.default_rng(4)
    lengths = [3.3, 0.6, 5.0, 1.0, 2.45]  # tail windows, a clip shorter than a window, exact fits
    paths = [
        save_audio(tmp_path / f"{i}.wav", (voiced(s, rng) * rng.uniform(0.2, 1.0)).astype(np.float32), RATE)
        for i, s in enumerate(lengths)
    ]
    model = StripProbe()
    strips = Detector(model, Calibrator(), settings=ScanSettings(batch_size=batch_size))
    plain = Detector(LoudnessProbe(), Calibrator(), settings=ScanSettings(batch_size=batch_size))
    plain.model.forward = model.forward  # same scores, window by window
    for a, b in zip(strips.scan_many(paths), plain.scan_many(paths), strict=True):
        assert a.ok and [w.start_s for w in a.timeline] == [w.start_s for w in b.timeline]
        np.testing.assert_allclose(
            [w.fake_probability for w in a.timeline], [w.fake_probability for w in b.timeline], atol=1e-6
        )
        assert a.fake_probability == pytest.approx(b.fake_probability, abs=1e-6)
    assert model.strip_windows and max(model.strip_windows) <= batch_size
    # the 5 s file alone has 9 regular windows: with room in the batch they go in as one strip
    assert (max(model.strip_windows) == 9) == (batch_size == 32)
    assert strips.scan_waveform(voiced(2.2, rng), RATE).ok


def test_a_long_file_is_not_held_in_memory_while_it_is_scanned(tmp_path, probe):
    """Scored windows are let go: a 10-minute file's windows (1,199 x 64 kB = 77 MB if kept) must not
    accumulate; what stays is a few batches in flight and the timeline."""
    import tracemalloc

    rng = np.random.default_rng(0)
    path = tmp_path / "long.wav"
    wave = np.concatenate([voiced(10.0, rng) for _ in range(60)])
    save_audio(path, wave, RATE)
    del wave
    tracemalloc.start()
    try:
        result = probe.scan(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and len(result.timeline) == 1199
    assert peak < 25 * 2**20, f"peak traced memory {peak / 2**20:.0f} MB while scanning a 10-minute file"


# ------------------------------------------------------------------------- no verdict without evidence
@pytest.mark.parametrize("samples", [10, 28, 4000])
def test_a_clip_too_short_to_judge_is_an_error_row_not_a_verdict(tmp_path, probe, samples):
    path = save_audio(tmp_path / "blip.wav", _tone(1.0, 0.5)[:samples], RATE)
    result = probe.scan(path)
    assert not result.ok and result.verdict == "error" and result.fake_probability is None
    seconds = f"{samples / RATE:.3f}"
    assert f"too short to judge: {seconds} s of audio, at least 0.5 s needed" in result.error
    assert not probe.scan_waveform(_tone(1.0, 0.5)[:samples], RATE).ok


def test_the_minimum_duration_is_a_setting_and_a_model_may_set_its_own(tmp_path, probe):
    from unmask.detect.pipeline import DEFAULT_MIN_DURATION_S

    assert probe.min_duration_s == DEFAULT_MIN_DURATION_S == 0.5
    path = save_audio(tmp_path / "short.wav", _tone(0.3, 0.5), RATE)
    assert probe.with_settings(min_duration_s=0.2).scan(path).ok

    class Patient(LoudnessProbe):
        min_duration_s = 2.0  # a model that needs more context than the generic default

    strict = Detector(Patient(), Calibrator())
    assert strict.min_duration_s == 2.0
    assert "at least 2 s needed" in strict.scan(save_audio(tmp_path / "1s.wav", _tone(1.0, 0.5), RATE)).error
    with pytest.raises(ValueError):
        ScanSettings(min_duration_s=-1)


def test_too_little_audible_audio_is_an_error_row(tmp_path, probe):
    # 10 s of digital silence around 0.1 s of tone: long enough, loud enough per window, but no evidence
    wave = np.concatenate([np.zeros(5 * RATE, np.float32), _tone(0.1, 0.5), np.zeros(5 * RATE, np.float32)])
    result = probe.scan(save_audio(tmp_path / "click.wav", wave, RATE))
    assert not result.ok and result.fake_probability is None
    assert "too little audible audio to judge: 0.10 s above -60 dBFS, at least 0.5 s needed" in result.error
    enough = np.concatenate([np.zeros(5 * RATE, np.float32), _tone(0.7, 0.5), np.zeros(5 * RATE, np.float32)])
    assert probe.scan(save_audio(tmp_path / "word.wav", enough, RATE)).ok
    assert probe.scan_waveform(enough, RATE).ok and not probe.scan_waveform(wave, RATE).ok


class LongWindowProbe(LoudnessProbe):
    """The loudness probe with 30-s windows (a music model's length); records each call's batch size."""

    name = "long-window-probe"
    default_config = {"sample_rate": RATE, "window_s": 30.0}

    def __init__(self, config=None):
        super().__init__(config)
        self.batches: list[int] = []

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        self.batches.append(wave.shape[0])
        return super().forward(wave)


def test_long_windows_are_batched_by_audio_not_only_by_count(tmp_path):
    """32 music windows would be 16 minutes of audio in one call: the batch is capped at 128 s (4 windows
    of 30 s) unless batch_audio_s says otherwise, and the scores do not depend on it."""
    path = save_audio(tmp_path / "song.wav", _tone(200, 0.05), RATE)
    model = LongWindowProbe()
    detector = Detector(model, Calibrator(), name="probe")
    assert detector.batch_windows == 4
    capped = detector.scan(path)
    assert len(capped.timeline) == 13 and max(model.batches) == 4  # 12 at a 15-s hop + the tail
    model.batches.clear()
    wide = detector.with_settings(batch_audio_s=1e6)
    assert wide.batch_windows == 32
    uncapped = wide.scan(path)
    assert max(model.batches) == 13
    assert [w.fake_probability for w in uncapped.timeline] == [w.fake_probability for w in capped.timeline]
    with pytest.raises(ValueError, match="batch_audio_s"):
        ScanSettings(batch_audio_s=0)
