"""`unmask data formats|import|describe|check` through Typer's CliRunner."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from unmask.cli.main import app

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realworld-dev" / "manifest.csv"
runner = CliRunner()


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone (messages wrap at the console width)."""
    return " ".join(text.split())


def write_audio(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(seed).uniform(-0.3, 0.3, 1600).astype(np.float32), 16000)
    return path


def in_the_wild_tree(root: Path, n: int = 3) -> Path:
    release = root / "release_in_the_wild"
    release.mkdir(parents=True)
    rows = ["file,speaker,label"] + [
        f"{i}.wav,Speaker {i},{'spoof' if i % 2 else 'bona-fide'}" for i in range(n)
    ]
    (release / "meta.csv").write_text("\n".join(rows) + "\n")
    for i in range(n):
        write_audio(release / f"{i}.wav", seed=i)
    return root


def test_formats_and_list():
    result = runner.invoke(app, ["data", "formats", "--json"])
    assert result.exit_code == 0
    names = [entry["format"] for entry in json.loads(result.stdout)]
    assert "asvspoof2019-la" in names and "sonics" in names and len(names) == 10
    listed = runner.invoke(app, ["data", "import", "--list"])
    assert listed.exit_code == 0 and "in-the-wild" in listed.stdout


def test_import_describe_check_round_trip(tmp_path):
    root = in_the_wild_tree(tmp_path / "itw")
    out = tmp_path / "manifests" / "itw.csv"
    result = runner.invoke(app, ["data", "import", "in-the-wild", str(root), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["real"], summary["fake"]) == (3, 2, 1)
    assert out.read_text().splitlines()[0].startswith("path,label")
    described = runner.invoke(app, ["data", "describe", str(out), "--by", "speaker", "--json"])
    assert described.exit_code == 0, described.output
    payload = json.loads(described.stdout)
    assert payload["files"] == 3 and payload["sample_rates"] == {"16000": 3}
    assert {g["value"] for g in payload["groups"]["speaker"]} == {"Speaker 0", "Speaker 1", "Speaker 2"}
    checked = runner.invoke(app, ["data", "check", str(out)])
    assert checked.exit_code == 0 and "all 3 files readable" in checked.stdout


def test_import_exit_codes(tmp_path):
    root = in_the_wild_tree(tmp_path / "itw")
    out = tmp_path / "m.csv"
    unknown = runner.invoke(app, ["data", "import", "nope", str(root), "--out", str(out)])
    assert unknown.exit_code == 2 and "unknown corpus format" in flat(unknown.output)
    incomplete = runner.invoke(app, ["data", "import", "in-the-wild", str(root)])
    assert incomplete.exit_code == 2
    wrong_layout = runner.invoke(app, ["data", "import", "asvspoof2019-la", str(root), "--out", str(out)])
    assert wrong_layout.exit_code == 2 and "not found" in flat(wrong_layout.output)
    bad_option = runner.invoke(
        app, ["data", "import", "in-the-wild", str(root), "--out", str(out), "--split", "x"]
    )
    assert bad_option.exit_code == 2 and "does not take" in flat(bad_option.output)
    (root / "release_in_the_wild" / "1.wav").unlink()
    missing = runner.invoke(app, ["data", "import", "in-the-wild", str(root), "--out", str(out)])
    assert missing.exit_code == 1 and "1 of 3 audio files" in flat(missing.output)
    assert not out.exists(), "nothing is written when audio is missing and not skipped"
    skipped = runner.invoke(
        app, ["data", "import", "in-the-wild", str(root), "--out", str(out), "--skip-missing"]
    )
    assert skipped.exit_code == 1 and "skipped 1" in flat(skipped.output)
    assert len(out.read_text().splitlines()) == 3


def test_describe_and_check_report_bad_rows(tmp_path):
    write_audio(tmp_path / "a.wav")
    (tmp_path / "a_copy.wav").write_bytes((tmp_path / "a.wav").read_bytes())
    (tmp_path / "broken.wav").write_bytes(b"nope")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,label,source\na.wav,real,x\na_copy.wav,fake,x\nbroken.wav,real,y\ngone.flac,fake,y\n"
    )
    described = runner.invoke(app, ["data", "describe", str(manifest)])
    assert described.exit_code == 1
    output = flat(described.output)
    assert "conflicting labels" in output and "1 missing file(s)" in output
    assert "1 unreadable file(s)" in output
    checked = runner.invoke(app, ["data", "check", str(manifest), "--json"])
    assert checked.exit_code == 1
    problems = json.loads(checked.stdout)["problems"]
    assert [p["line"] for p in problems] == [4, 5]
    assert problems[1]["reason"] == "file not found"


def test_unreadable_manifest_is_usage_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\na.wav,bonafide\n")
    for command in ("describe", "check"):
        result = runner.invoke(app, ["data", command, str(bad)])
        assert result.exit_code == 2
        assert "line 2, column 'label'" in flat(result.output)
    assert runner.invoke(app, ["data", "describe", str(tmp_path / "absent.csv")]).exit_code == 2


def test_output_does_not_depend_on_the_terminal_or_the_path_length(tmp_path, monkeypatch):
    """The describe header starts with the manifest's path; from a deep checkout it wraps mid-sentence."""
    from unmask.cli import common

    monkeypatch.setenv("COLUMNS", "250")
    assert common.console.width == 80  # pinned by tests/conftest.py, whatever the terminal or COLUMNS
    deep = tmp_path / ("a-checkout-folder-with-a-long-name-" * 4)
    write_audio(deep / "a.wav")
    (deep / "m.csv").write_text("path,label\na.wav,real\n")
    result = runner.invoke(app, ["data", "describe", str(deep / "m.csv"), "--no-hash"])
    assert result.exit_code == 0, result.output
    assert "1 files, 0.00 h" in flat(result.output)


@pytest.mark.shared
def test_describe_realworld_prints_source_by_label_table(monkeypatch):
    if not REALWORLD.is_file():
        pytest.skip(f"shared data absent: {REALWORLD}")
    from unmask.cli import common

    monkeypatch.setattr(common.console, "width", 160)  # Rich's width; CliRunner's terminal_width is Click's
    started = time.perf_counter()
    result = runner.invoke(app, ["data", "describe", str(REALWORLD)])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "per source x label" in result.output
    table_line = next(line for line in result.output.splitlines() if "Edresson/YourTTS" in line)
    assert [cell.strip() for cell in table_line.split("│")[1:-1]][:4] == [
        "Edresson/YourTTS",
        "281",
        "36",
        "317",
    ]
    assert "1179 files" in flat(result.output)  # the line starts with the manifest path: any length
    print(f"unmask data describe realworld-dev (1,179 rows, hashing on): {elapsed:.2f} s")
