"""The HTML scan report: envelope decoding, plot geometry, escaping, self-containment."""

from __future__ import annotations

import re
from html import escape

import numpy as np
import pytest

from unmask.detect.result import ScanResult, Thresholds, WindowScore
from unmask.io import save_audio
from unmask.report.scan_html import (
    format_seconds,
    render_scan_report,
    render_timeline_svg,
    suspicious_spans,
    waveform_envelope,
    write_scan_report,
)

RATE = 16000


def _result(path: str, probabilities: list[float], window: float = 1.0, hop: float = 0.5) -> ScanResult:
    timeline = [WindowScore(i * hop, i * hop + window, p) for i, p in enumerate(probabilities)]
    return ScanResult(
        path=path, fake_probability=max(probabilities), verdict=Thresholds().verdict(max(probabilities)),
        model="tiny", model_version="3", duration_s=timeline[-1].end_s, timeline=timeline,
    )


@pytest.fixture
def half_silent(tmp_path):
    """1 s of silence then 1 s of a 0.5-amplitude 440 Hz tone."""
    t = np.arange(RATE) / RATE
    wave = np.r_[np.zeros(RATE), 0.5 * np.sin(2 * np.pi * 440 * t)].astype(np.float32)
    return save_audio(tmp_path / "half.wav", wave, RATE)


def test_envelope_follows_the_loudness_of_the_file(half_silent):
    env = waveform_envelope(half_silent, 2.0, columns=100)
    assert env is not None and len(env.maxs) == len(env.mins) == 100
    assert np.abs(env.maxs[:48]).max() < 0.01 and np.abs(env.mins[:48]).max() < 0.01
    assert env.maxs[52:] == pytest.approx(0.5, abs=0.05)
    assert env.mins[52:] == pytest.approx(-0.5, abs=0.05)


def test_envelope_of_an_unreadable_file_is_none(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio at all")
    assert waveform_envelope(junk, 1.0) is None
    assert waveform_envelope(tmp_path / "missing.wav", 1.0) is None


def test_suspicious_spans_merge_overlapping_windows_only():
    result = _result("x.wav", [0.9, 0.8, 0.1, 0.1, 0.95])  # windows [0,1] [0.5,1.5] [1,2] [1.5,2.5] [2,3]
    assert suspicious_spans(result, 0.7) == [(0.0, 1.5), (2.0, 3.0)]
    assert suspicious_spans(result, 0.99) == []


def test_plot_draws_each_window_and_shades_suspicious_spans():
    result = _result("x.wav", [0.9, 0.8, 0.1, 0.1, 0.95])
    svg = render_timeline_svg(result, Thresholds(), envelope=None)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 5
    assert svg.count('class="hot"') == 2
    assert "fake \u2265 0.70" in svg and "real &lt; 0.30" in svg


def test_report_escapes_every_input_supplied_text():
    hostile = "<script>alert(1)</script> & co.wav"
    failed = ScanResult.failed("<b>broken</b>.mp3", "<b>broken</b>.mp3: decoder said <oops>")
    html = render_scan_report(
        [_result(hostile, [0.2, 0.4]), failed], model="tiny<>", model_version="3", thresholds=Thresholds(),
    )
    assert "<script" not in html and "<b>broken" not in html and "<oops>" not in html
    assert escape(hostile) in html and escape("decoder said <oops>") in html and "tiny&lt;&gt;" in html
    assert html.count("<svg") == 1  # the failed file has a reason, not a plot


def test_report_header_states_thresholds_and_counts():
    results = [_result("a.wav", [0.1]), _result("b.wav", [0.5]), _result("c.wav", [0.9]),
               ScanResult.failed("d.wav", "d.wav: no audio stream")]
    html = render_scan_report(results, model="tiny", model_version="3", thresholds=Thresholds(0.25, 0.8))
    assert "p &lt; 0.25" in html and "p \u2265 0.80" in html
    for text in ("1 real", "1 uncertain", "1 fake", "1 errors"):
        assert text in html
    assert re.search(r'<section class="card" id="file-3">.*no audio stream', html)


def test_written_report_is_self_contained(half_silent, tmp_path):
    out = tmp_path / "r.html"
    write_scan_report(out, [_result(str(half_silent), [0.2, 0.9, 0.3])], model="tiny", model_version="3",
                      thresholds=Thresholds())
    html = out.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "<link" not in html and "src=" not in html
    assert html.count('class="wave"') == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half.wav", "r.html"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0 s"), (2.5, "2.5 s"), (59, "59 s"), (65, "1:05"), (3723, "1:02:03")]
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text
