"""The merged output of ``scan --engine ray`` (unmask.cli.ray_scan) read back for a rerun, in every format;
no Ray needed."""

from __future__ import annotations

import pytest

from unmask.cli.ray_scan import _read_held, _write_out, format_for
from unmask.detect.result import ScanResult, WindowScore
from unmask.errors import UnmaskError


def _results() -> list[tuple[str, ScanResult]]:
    long = ScanResult(path="/data/an hour\u2028long\r.flac", fake_probability=0.25, verdict="real",
                      model="default", duration_s=3600.0,
                      timeline=[WindowScore(float(i), i + 2.0, 0.1) for i in range(3000)])  # a huge cell
    bad = ScanResult.failed("/data/bad.wav", "/data/bad.wav: not media", model="default")
    return [("size:1,mtime_ns:2", long), ("-", bad)]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "json"])
def test_every_format_reads_back_what_it_wrote(tmp_path, fmt):
    out = tmp_path / f"scores.{fmt}"
    rows = _results()
    _write_out(out, fmt, rows)
    held = _read_held(out, fmt, log=lambda _: None)
    assert len(held) == 2
    for key, result in rows:
        got_key, got = held[result.path if result.path.startswith("/") else str(tmp_path / result.path)]
        assert got_key == key and got == result  # timeline, None fields and odd characters intact


def test_a_file_that_is_not_our_output_is_refused_not_overwritten(tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("something,else\n1,2\n")
    with pytest.raises(UnmaskError, match="cannot resume from it"):
        _read_held(out, "csv", log=lambda _: None)
    assert out.read_text() == "something,else\n1,2\n"


def test_the_format_comes_from_the_flag_or_the_extension(tmp_path):
    assert format_for(None, tmp_path / "a.parquet") == "parquet"
    assert format_for(None, tmp_path / "a.ndjson") == "jsonl"
    assert format_for("csv", tmp_path / "a.txt") == "csv"
    assert format_for(None, None) == "table"
    with pytest.raises(UnmaskError, match="which format"):
        format_for(None, tmp_path / "a.txt")
    with pytest.raises(UnmaskError, match="needs --out"):
        format_for("parquet", None)
