"""JSON / JSON Lines / CSV writers and the atomic file helper."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest

from unmask.detect.result import ScanResult, WindowScore
from unmask.report.writers import CSV_COLUMNS, ResultWriter, atomic_text_file, results_to_json, write_results

RESULTS = [
    ScanResult(
        path="a.wav", fake_probability=0.82, verdict="fake", model="m", model_version="1", duration_s=4.0,
        timeline=[WindowScore(0.0, 2.0, 0.4), WindowScore(1.0, 3.0, 0.9)],
    ),
    ScanResult.failed("b.mp3", "b.mp3: no audio stream", model="m"),
]


def test_json_round_trips_through_scan_result():
    back = [ScanResult.from_dict(d) for d in json.loads(results_to_json(RESULTS))]
    assert back == RESULTS


def test_jsonl_writes_one_object_per_result_as_it_arrives():
    stream = io.StringIO()
    writer = ResultWriter("jsonl", stream)
    writer.add(RESULTS[0])
    assert json.loads(stream.getvalue())["path"] == "a.wav"  # visible before the writer is closed
    writer.add(RESULTS[1])
    writer.close()
    assert [json.loads(line)["verdict"] for line in stream.getvalue().splitlines()] == ["fake", "error"]


def test_csv_has_the_flat_columns_and_empty_cells_for_missing_values():
    stream = io.StringIO()
    writer = ResultWriter("csv", stream)
    for result in RESULTS:
        writer.add(result)
    writer.close()
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["peak_window_start_s"] == "1.0" and rows[0]["n_windows"] == "2"
    assert rows[1]["fake_probability"] == "" and rows[1]["error"] == "b.mp3: no audio stream"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown output format"):
        ResultWriter("xml", io.StringIO())


def test_atomic_file_keeps_the_old_content_when_writing_fails(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_text_file(target) as stream:
        stream.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_written_file_gets_the_usual_permissions(tmp_path):
    target = tmp_path / "scores.csv"
    write_results(target, RESULTS, "csv")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    assert len(target.read_text().splitlines()) == 3
