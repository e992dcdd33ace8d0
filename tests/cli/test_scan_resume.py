"""``unmask scan --out FILE --resume``: each result appended and flushed; an interrupted scan picks up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from unmask.cli.main import app
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model

RATE = 16000
HELPER = Path(__file__).with_name("slow_scan.py")
runner = CliRunner()


def _clips(folder: Path, n: int, seconds: float = 1.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    paths = []
    for i in range(n):
        path = folder / f"clip-{i:03d}.wav"
        sf.write(path, (0.05 + 0.01 * (i % 30)) * np.sin(2 * np.pi * (150 + 7 * i) * t), RATE)
        paths.append(path)
    return paths


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, Checkpoint(build_model("lcnn", {"channels": [4, 4], "window_s": 1.0})))
    return path


def scan(*args):
    return runner.invoke(app, ["scan", *map(str, args)])


def test_a_killed_scan_resumes_and_every_file_appears_exactly_once(tmp_path):
    clips = _clips(tmp_path / "clips", 120)
    out = tmp_path / "results.jsonl"
    command = [sys.executable, str(HELPER), "scan", str(tmp_path / "clips"), "--out", str(out), "--resume",
               "--batch-size", "1"]
    env = os.environ | {"COLUMNS": "80"}
    scanning = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and scanning.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 10:
                break
            time.sleep(0.005)
        assert scanning.poll() is None, "the scan ended before it could be killed"
        scanning.send_signal(signal.SIGKILL)
    finally:
        scanning.kill()
        scanning.wait()
    before = out.read_text()
    complete = before[: before.rfind("\n") + 1]
    assert 10 <= complete.count("\n") < len(clips)  # each result was on disk as soon as it was known

    resumed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert f"of {len(clips)} file(s) already scanned" in " ".join(resumed.stderr.split())
    after = out.read_text()
    assert after.startswith(complete)  # rows from before the kill are kept as they were, not rescanned
    paths = [row["path"] for row in _rows(out)]
    assert sorted(paths) == sorted(map(str, clips)) and len(set(paths)) == len(clips)  # exactly once each
    assert all(row["error"] is None and row["file_key"].startswith("size:") for row in _rows(out))


def test_resume_drops_a_torn_last_line_and_rescans_changed_files(tmp_path, model_path):
    clips = _clips(tmp_path / "clips", 4)
    out = tmp_path / "r.jsonl"
    first = scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume")
    assert first.exit_code == 0, first.output
    assert sorted(r["path"] for r in _rows(out)) == sorted(map(str, clips))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:3]) + lines[3][:25])  # killed while writing the fourth row
    sf.write(clips[0], 0.2 * np.ones(RATE // 2 * 3), RATE)  # changed since: 1.5 s now
    again = scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume")
    assert again.exit_code == 0, again.output
    message = " ".join(again.stderr.split())
    assert "2 of 4 file(s) already scanned" in message and "1 changed since" in message
    rows = {r["path"]: r for r in _rows(out)}
    assert len(_rows(out)) == 4 and set(rows) == set(map(str, clips))
    assert rows[str(clips[0])]["duration_s"] == pytest.approx(1.5)
    nothing_left = scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume")
    assert nothing_left.exit_code == 0
    assert "4 of 4 file(s) already scanned" in " ".join(nothing_left.stderr.split())
    assert len(_rows(out)) == 4


def test_hash_matches_content_not_modification_time(tmp_path, model_path):
    clips = _clips(tmp_path / "clips", 3)
    out = tmp_path / "r.jsonl"
    assert scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume", "--hash").exit_code == 0
    assert all(r["file_key"].startswith("blake2b:") for r in _rows(out))
    later = time.time() + 100
    os.utime(clips[1], (later, later))  # a copy that reset the time: same content
    by_hash = scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume", "--hash")
    assert "3 of 3 file(s) already scanned" in " ".join(by_hash.stderr.split())
    shutil.copy(clips[0], clips[2])  # same size and, after utime, same time: only the hash sees it
    os.utime(clips[2], ns=(os.stat(clips[1]).st_atime_ns, os.stat(clips[1]).st_mtime_ns))
    changed = scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume", "--hash")
    assert "2 of 3 file(s) already scanned" in " ".join(changed.stderr.split())
    assert len(_rows(out)) == 3


def test_error_rows_are_kept_and_not_rescanned(tmp_path, model_path):
    _clips(tmp_path / "clips", 2)
    (tmp_path / "clips" / "broken.wav").write_bytes(b"RIFF....WAVEfmt ")
    out = tmp_path / "r.jsonl"
    assert scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume").exit_code == 1
    again = scan(tmp_path / "clips", "--model", model_path, "--out", out, "--resume")
    assert again.exit_code == 1  # the output still holds an error row
    assert "3 of 3 file(s) already scanned" in " ".join(again.stderr.split()) and len(_rows(out)) == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--resume"], "--resume needs --out"),
        (["--resume", "--out", "{out}", "--format", "csv"], "not csv"),
        (["--hash", "--out", "{out}"], "--hash only applies with --resume"),
        (["--resume", "--out", "{manifest}"], "not a resumable scan row"),
    ],
)
def test_resume_usage_errors(tmp_path, model_path, options, message):
    _clips(tmp_path / "clips", 1)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.wav,real\nb.wav,fake\n")
    filled = [o.format(out=tmp_path / "r.jsonl", manifest=manifest) for o in options]
    result = scan(tmp_path / "clips", "--model", model_path, *filled)
    assert result.exit_code == 2 and message in " ".join(result.stderr.split())
