"""``unmask scan`` end to end through Typer's CliRunner, on audio files generated here.

A tiny random-init LCNN checkpoint stands in for a trained model: these tests check the command's plumbing
(inputs, formats, errors, exit codes, report), not the model's accuracy.
"""

from __future__ import annotations

import csv
import io
import json
from html import escape
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from unmask.cli import common
from unmask.cli.main import app
from unmask.io import save_audio
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.report.writers import CSV_COLUMNS

RATE = 16000
runner = CliRunner()


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    """A 150-400 Hz harmonic tone with a syllable-rate loudness contour, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 150 + 250 * rng.random()
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
    contour = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    return (0.2 * tone * contour + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, Checkpoint(build_model("lcnn", {"channels": [4, 4], "window_s": 1.0})))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A folder of good clips (wav, flac, a nested mp3), plus a corrupt file and a text file named .wav."""
    root = tmp_path_factory.mktemp("media")
    files = {
        "wav": save_audio(root / "clip one.wav", _speechlike(3.0, 1), RATE),
        "flac": save_audio(root / "clip&<two>.flac", _speechlike(2.0, 2), RATE),
    }
    (root / "nested").mkdir()
    files["mp3"] = root / "nested" / "deep.mp3"
    sf.write(files["mp3"], _speechlike(2.5, 3), RATE, format="MP3")
    # Junk that sits next to media in real folders: passed over by folder scans, an error when named.
    (root / "notes.txt").write_text("not media")
    bad = tmp_path_factory.mktemp("bad")
    files["corrupt"] = bad / "truncated.wav"
    files["corrupt"].write_bytes(files["wav"].read_bytes()[:30])  # the RIFF header cut mid-way
    files["text"] = bad / "readme.wav"
    files["text"].write_text("this is a text file renamed to .wav\n" * 20)
    files["root"] = root
    return files


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch):
    """The captured stdout is not a terminal (80 columns); widen it so table rows are not folded."""
    monkeypatch.setattr(common.console, "width", 250)


def flat(text: str) -> str:
    """Rich wraps stderr at the console width; compare messages with whitespace runs collapsed."""
    return " ".join(text.split())


def scan(*args: str, input: str | None = None):
    return runner.invoke(app, ["scan", *map(str, args)], input=input)


def _good(media: dict[str, Path]) -> list[Path]:
    return [media["wav"], media["flac"], media["mp3"]]


# ------------------------------------------------------------------------------------ formats
def test_json_output_scores_every_input_and_reports_failures(media, model_path):
    missing = media["root"] / "no-such-clip.wav"
    inputs = [*_good(media), media["corrupt"], media["text"], missing]
    result = scan(*inputs, "--model", model_path, "--format", "json")
    assert result.exit_code == 1, result.output
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(p) for p in inputs]  # input order, nothing dropped
    for row in rows[:3]:
        assert row["verdict"] in ("real", "uncertain", "fake")
        assert 0.0 <= row["fake_probability"] <= 1.0
        assert row["duration_s"] > 1.5 and row["timeline"] and row["error"] is None
    for row in rows[3:]:
        assert row["verdict"] == "error" and row["fake_probability"] is None and row["error"]
    assert "no such file or pattern" in rows[5]["error"]
    assert "error(s)" in result.stderr  # the summary goes to stderr, keeping stdout parseable


def test_jsonl_and_csv_outputs_parse_and_agree(media, model_path):
    inputs = [*_good(media), media["text"]]
    jsonl = scan(*inputs, "--model", model_path, "--format", "jsonl")
    as_csv = scan(*inputs, "--model", model_path, "--format", "csv")
    assert jsonl.exit_code == as_csv.exit_code == 1
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["path"] for r in lines] == [r["path"] for r in rows] == [str(p) for p in inputs]
    for line, row in zip(lines[:3], rows[:3], strict=True):
        assert float(row["fake_probability"]) == pytest.approx(line["fake_probability"])
        assert int(row["n_windows"]) == len(line["timeline"])
    assert rows[3]["verdict"] == "error" and rows[3]["fake_probability"] == "" and rows[3]["error"]


def test_parquet_output_has_the_csv_columns_and_values(media, model_path, tmp_path):
    import pandas as pd

    from unmask.detect.result import ROW_ARROW_TYPES

    inputs = [*_good(media), media["text"]]
    as_csv = scan(*inputs, "--model", model_path, "--format", "csv")
    out = tmp_path / "scores.parquet"
    as_parquet = scan(*inputs, "--model", model_path, "--format", "parquet", "--out", out)
    assert as_parquet.exit_code == as_csv.exit_code == 1
    frame = pd.read_parquet(out)
    expected = pd.read_csv(io.StringIO(as_csv.stdout))
    assert tuple(frame.columns) == CSV_COLUMNS == tuple(ROW_ARROW_TYPES) and len(frame) == len(inputs)
    assert list(frame["path"]) == list(expected["path"])
    np.testing.assert_allclose(frame["fake_probability"].astype(float), expected["fake_probability"])
    assert frame["verdict"].tolist() == expected["verdict"].tolist()


def test_table_output_and_summary(media, model_path, wide_console):
    result = scan(*_good(media), media["corrupt"], "--model", model_path)
    assert result.exit_code == 1
    base = Path(result.stdout.splitlines()[0].split(" ", 1)[1].rstrip("/"))
    for path in [*_good(media), media["corrupt"]]:
        assert str(path.relative_to(base)) in result.stdout
    assert "4 file(s): " in result.stderr and "1 error(s)" in result.stderr


@pytest.fixture
def deep_folder(tmp_path: Path) -> Path:
    """Clips three long folder names down, two of them with the same file name, and a broken one."""
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "with" / "nested" / "levels-of-subfolders"
    (deep / "session-two").mkdir(parents=True)
    save_audio(deep / "speaker_0001_utterance_0042.wav", _speechlike(1.0, 1), RATE)
    save_audio(deep / "speaker_0002_utterance_0043.flac", _speechlike(1.0, 2), RATE)
    save_audio(deep / "session-two" / "speaker_0001_utterance_0042.wav", _speechlike(1.0, 3), RATE)
    (deep / "broken_recording.wav").write_bytes(b"RIFF....WAVEfmt ")
    return deep


def test_table_keeps_one_whole_row_per_file_at_80_columns(deep_folder, model_path, monkeypatch):
    monkeypatch.setattr(common.console, "width", 80)
    result = scan(deep_folder, "--model", model_path)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines[1:])) <= 80  # the first names the common folder, unbroken however long
    first_cells = [line.split()[0] for line in lines if line.strip()]
    for name in ("speaker_0001_utterance_0042.wav", "speaker_0002_utterance_0043.flac",
                 "session-two/speaker_0001_utterance_0042.wav", "broken_recording.wav"):
        assert first_cells.count(name) == 1, result.stdout  # whole, on one line, unambiguous
    assert str(deep_folder) in lines[0]  # the folder they are relative to, once, unbroken
    row = next(line for line in lines if line.split()[0] == "broken_recording.wav")
    assert row.split()[1] == "error"
    below = result.stdout[result.stdout.index(row) + len(row):]
    assert "not a recognised media file" in flat(below)  # the reason, below the table
    assert "broken_recording.wav" in below


def test_table_paths_shorten_to_their_shortest_unambiguous_ending():
    from unmask.cli.scan import display_paths

    paths = ["/data/corpus/2021/eval/speaker-a/clip.wav", "/data/corpus/2021/eval/speaker-b/clip.wav",
             "/data/corpus/2021/dev/speaker-a/other.wav"]
    names, base = display_paths(paths, budget=80)
    assert base == "/data/corpus/2021" and names == ["eval/speaker-a/clip.wav", "eval/speaker-b/clip.wav",
                                                    "dev/speaker-a/other.wav"]
    names, base = display_paths(paths, budget=18)
    assert names == ["…/speaker-a/clip.wav", "…/speaker-b/clip.wav", "…/other.wav"]
    assert display_paths(["clip.wav"], budget=80) == (["clip.wav"], None)
    assert display_paths(["/a.wav", "/b/c.wav"], budget=80) == (["/a.wav", "/b/c.wav"], None)


def test_quiet_keeps_machine_output_and_drops_chatter(media, model_path):
    args = ["--quiet", "scan", str(media["wav"]), "--model", str(model_path), "-f", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 1
    assert "file(s):" not in result.stderr


def test_out_file_is_written_instead_of_stdout(media, model_path, tmp_path):
    out = tmp_path / "scores.json"
    result = scan(media["wav"], media["flac"], "--model", model_path, "-f", "json", "--out", out)
    assert result.exit_code == 0
    assert "fake_probability" not in result.stdout
    assert [r["path"] for r in json.loads(out.read_text())] == [str(media["wav"]), str(media["flac"])]
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]  # no temp file left behind


def test_table_can_go_to_a_file(media, model_path, tmp_path):
    out = tmp_path / "scores.txt"
    result = scan(media["wav"], media["text"], "--model", model_path, "--out", out)
    assert result.exit_code == 1 and result.stdout == ""
    table = out.read_text()
    assert str(media["wav"]) in table and str(media["text"]) in table
    assert "\x1b[" not in table  # plain text, no colour codes


def test_quiet_table_still_names_failed_inputs(media, model_path):
    args = ["-q", "scan", str(media["wav"]), str(media["text"]), "--model", str(model_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert str(media["text"]) in flat(result.stderr) and str(media["wav"]) not in flat(result.stderr)


# ------------------------------------------------------------------------------------ inputs
def test_folder_is_searched_recursively_for_media_only(media, model_path):
    result = scan(media["root"], "--model", model_path, "-f", "jsonl")
    assert result.exit_code == 0, result.output
    scanned = {json.loads(line)["path"] for line in result.stdout.splitlines()}
    assert scanned == {str(p) for p in _good(media)}  # notes.txt passed over, nested mp3 found
    assert "passed over 1 file(s)" in flat(result.stderr)

    top_only = scan(media["root"], "--no-recursive", "--model", model_path, "-f", "jsonl")
    assert {json.loads(line)["path"] for line in top_only.stdout.splitlines()} == {
        str(media["wav"]), str(media["flac"])
    }


def test_nothing_in_a_folder_is_dropped_silently(media, model_path, tmp_path, monkeypatch):
    """A broken link, an unreadable sub-folder, a FIFO: each is an error row, never missing."""
    import os

    root = tmp_path / "folder"
    root.mkdir()
    good = save_audio(root / "good.wav", _speechlike(1.0, 4), RATE)
    (root / "dangling.wav").symlink_to(tmp_path / "deleted.wav")
    (root / "dangling-notes").symlink_to(tmp_path / "deleted.txt")  # not media by name: passed over, counted
    os.mkfifo(root / "stream.mp3")
    locked = root / "locked"
    locked.mkdir()
    save_audio(locked / "inside.wav", _speechlike(1.0, 5), RATE)
    (root / "linked-folder").symlink_to(locked, target_is_directory=True)
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan(root, "--model", model_path, "-f", "jsonl")
    assert result.exit_code == 1, result.output
    rows = {json.loads(line)["path"]: json.loads(line) for line in result.stdout.splitlines()}
    assert set(rows) == {str(good), str(root / "dangling.wav"), str(root / "stream.mp3"), str(locked)}
    assert rows[str(good)]["error"] is None
    assert "broken symbolic link" in rows[str(root / "dangling.wav")]["error"]
    assert "not a regular file" in rows[str(root / "stream.mp3")]["error"]
    assert "folder cannot be read" in rows[str(locked)]["error"]
    assert "permission denied" in rows[str(locked)]["error"].lower()
    message = flat(result.stderr)
    assert "passed over 1 file(s)" in message and "1 symbolic link(s) to folders" in message


def test_a_broken_link_named_on_the_command_line_is_an_error_row(model_path, tmp_path):
    link = tmp_path / "clip.wav"
    link.symlink_to(tmp_path / "nowhere.wav")
    result = scan(link, "--model", model_path, "-f", "json")
    assert result.exit_code == 1
    assert "broken symbolic link" in json.loads(result.stdout)[0]["error"]


def test_glob_patterns_are_expanded_by_the_command(media, model_path):
    pattern = str(media["root"] / "**" / "*.mp3")
    result = scan(pattern, "--model", model_path, "-f", "jsonl")
    assert result.exit_code == 0
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(media["mp3"])]

    nothing = scan(str(media["root"] / "*.opus"), "--model", model_path, "-f", "json")
    assert nothing.exit_code == 1
    assert "no such file or pattern" in json.loads(nothing.stdout)[0]["error"]


def test_paths_from_stdin(media, model_path):
    listing = f"{media['wav']}\n\n{media['mp3']}\n{media['root'] / 'gone.wav'}\n"
    result = scan("-", "--model", model_path, "-f", "json", input=listing)
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    expected = [media["wav"], media["mp3"], media["root"] / "gone.wav"]
    assert [r["path"] for r in rows] == [str(p) for p in expected]
    assert [r["verdict"] == "error" for r in rows] == [False, False, True]


def test_a_file_reached_twice_is_scanned_once(media, model_path):
    result = scan(media["wav"], media["root"], "--model", model_path, "-f", "jsonl")
    paths = [json.loads(line)["path"] for line in result.stdout.splitlines()]
    assert sorted(paths) == sorted(str(p) for p in _good(media))
    assert "more than once" in flat(result.stderr)


def test_max_duration_refuses_long_files(media, model_path):
    result = scan(media["wav"], media["flac"], "--model", model_path, "--max-duration", "2.5", "-f", "json")
    assert result.exit_code == 1
    long_clip, short_clip = json.loads(result.stdout)
    assert long_clip["verdict"] == "error" and short_clip["verdict"] != "error"


def test_thresholds_and_windows_shape_the_result(media, model_path):
    result = scan(media["wav"], "--model", model_path, "-f", "json", "--window", "0.5", "--hop", "0.25",
                  "--real-below", "0", "--fake-at", "0")
    row = json.loads(result.stdout)[0]
    assert row["verdict"] == "fake"  # every probability is >= 0
    starts = [w["start_s"] for w in row["timeline"]]
    assert starts[:3] == [0.0, 0.25, 0.5] and all(w["end_s"] - w["start_s"] == 0.5 for w in row["timeline"])


# ------------------------------------------------------------------------------------ usage errors
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--real-below", "0.8", "--fake-at", "0.6"], "real_below"),
        (["--fake-at", "1.5"], "fake_at_or_above"),
        (["--hop", "3", "--window", "1"], "must not exceed the window"),
        (["--window", "0"], "--window must be positive"),
        (["--max-duration", "-1"], "--max-duration must be positive"),
    ],
)
def test_bad_usage_exits_2_with_a_clear_message(media, model_path, options, message):
    result = scan(media["wav"], "--model", model_path, *options)
    assert result.exit_code == 2
    assert message in flat(result.stderr)


def test_unknown_model_exits_2(media, tmp_path):
    result = scan(media["wav"], "--model", tmp_path / "nope.pt")
    assert result.exit_code == 2
    assert "unknown model" in flat(result.stderr) and "nope.pt" in flat(result.stderr)


def test_out_folder_must_exist(media, model_path, tmp_path):
    result = scan(media["wav"], "--model", model_path, "--out", tmp_path / "missing" / "x.json")
    assert result.exit_code == 2 and "does not exist" in flat(result.stderr)


# ------------------------------------------------------------------------------------ HTML report
def test_html_report_is_one_self_contained_file(media, model_path, tmp_path):
    report = tmp_path / "report.html"
    inputs = [*_good(media), media["text"]]
    result = scan(*inputs, "--model", model_path, "--report", report, "-f", "json")
    assert result.exit_code == 1
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    html = report.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "<script" not in html and "@import" not in html
    for path in inputs:
        assert escape(path.name) in html
    assert "clip&<two>" not in html  # the raw name would be markup
    assert html.count("<svg") == 3  # one plot per scanned file, none for the error row
    assert html.count('class="wave"') == 3  # each plot has its waveform envelope
    error_row = json.loads(result.stdout)[3]
    assert escape(error_row["error"].split(": ", 1)[1]) in html


def test_threads_option_sets_torch_threads_and_auto_leaves_the_decoder_a_core(media, model_path, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        result = scan(media["wav"], "--model", model_path, "--format", "json", "--threads", "1")
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        monkeypatch.setattr("os.cpu_count", lambda: 4)
        assert scan(media["wav"], "--model", model_path, "--format", "json").exit_code == 0
        assert torch.get_num_threads() == 3
        assert common.scoring_threads(0) == 3 and common.scoring_threads(2) == 2
        monkeypatch.setattr("os.cpu_count", lambda: 1)
        assert common.scoring_threads(0) == 1
        with pytest.raises(ValueError, match="threads must be >= 0"):
            common.scoring_threads(-1)
        assert scan(media["wav"], "--model", model_path, "--threads", "-1").exit_code == 2
    finally:
        torch.set_num_threads(before)
