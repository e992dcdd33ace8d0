"""``--engine ray``: the same answers as the local engine, resumable, and no input lost when an actor dies.

Ray runs here as a local instance of two CPUs, started once for the module (all Ray tests share one xdist
worker: a second instance on a 2-core machine would only slow both down).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from typer.testing import CliRunner

from unmask._fs import file_state_key
from unmask.cli.main import app
from unmask.cli.ray_scan import run_ray_scan
from unmask.cli.scan import expand_inputs
from unmask.engine.ray_engine import (
    LOST_KEY,
    DetectorSpec,
    RayOptions,
    lost_records,
    read_shards,
    score_items,
    write_shards,
)

ray = pytest.importorskip("ray", reason="--engine ray needs ray[data] (pip install 'unmask[ray]')")
pytestmark = pytest.mark.xdist_group("ray")

RATE = 16000
runner = CliRunner()


def _clips(folder: Path, n: int, seconds: float = 2.0, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(start)
    paths = []
    for i in range(start, start + n):
        wave = 0.1 * np.sin(2 * np.pi * (140 + 11 * i) * t) + 0.01 * rng.standard_normal(len(t))
        path = folder / f"clip-{i:03d}.wav"
        sf.write(path, wave.astype(np.float32), RATE)
        paths.append(path)
    return paths


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    ray.init(num_cpus=2, object_store_memory=96 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def scan(*args):
    return runner.invoke(app, ["scan", *map(str, args)])


def _local_scores(folder: Path, tmp_path: Path, *options: str) -> pd.DataFrame:
    out = tmp_path / "local.csv"
    result = scan(folder, "--model", "lfcc-gmm", "--threads", "1", "--format", "csv", "--out", out, *options)
    assert result.exit_code in (0, 1), result.output
    return pd.read_csv(out)


def test_both_engines_give_identical_scores_and_the_same_rows(tmp_path):
    folder = tmp_path / "clips"
    _clips(folder, 9)
    (folder / "broken.wav").write_bytes(b"RIFF but not audio")
    local = _local_scores(folder, tmp_path)
    out = tmp_path / "ray.parquet"
    result = scan(folder, "--model", "lfcc-gmm", "--engine", "ray", "-j", "2", "--out", out)
    assert result.exit_code == 1, result.output  # the broken file is an error row, the rest are scored
    on_ray = pd.read_parquet(out)
    assert len(on_ray) == len(local) == 10 and on_ray["path"].is_unique
    assert set(local.columns) <= set(on_ray.columns)  # the local columns, + file_key and result
    merged = local.merge(on_ray, on="path", suffixes=("_local", "_ray"), validate="one_to_one")
    np.testing.assert_array_equal(merged["fake_probability_local"], merged["fake_probability_ray"])
    assert (merged["verdict_local"] == merged["verdict_ray"]).all()
    broken = on_ray[on_ray["path"].str.endswith("broken.wav")].iloc[0]
    assert broken["verdict"] == "error" and "broken.wav" in broken["error"]
    timeline = json.loads(on_ray[on_ray["verdict"] != "error"].iloc[0]["result"])["timeline"]
    assert timeline and 0.0 <= timeline[0]["fake_probability"] <= 1.0
    assert not (tmp_path / "ray.parquet.parts").exists()  # merged into --out, shards removed


def test_a_rerun_scores_only_new_or_changed_files(tmp_path):
    folder = tmp_path / "clips"
    clips = _clips(folder, 6)
    out = tmp_path / "scores.csv"
    first = scan(folder, "--model", "lfcc-gmm", "--engine", "ray", "--out", out)
    assert first.exit_code == 0, first.output
    before = {row["path"]: row for row in csv.DictReader(out.open())}
    _clips(folder, 2, start=6)
    changed = clips[0]
    sf.write(changed, np.zeros(RATE * 2, dtype=np.float32) + 0.05, RATE)  # new content, new size/mtime
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    second = scan(folder, "--model", "lfcc-gmm", "--engine", "ray", "--out", out)
    assert "5 of 8 input(s) already scanned" in " ".join(second.output.split())
    after = {row["path"]: row for row in csv.DictReader(out.open())}
    assert len(after) == 8
    for path in map(str, clips[1:]):  # untouched rows are kept as they were
        assert after[path] == before[path]
    assert after[str(changed)]["file_key"] != before[str(changed)]["file_key"]


def test_a_run_interrupted_after_some_shards_resumes_from_them(tmp_path):
    folder = tmp_path / "clips"
    clips = _clips(folder, 6)
    out = tmp_path / "scores.jsonl"
    spec = DetectorSpec(model="lfcc-gmm")
    inputs = expand_inputs([str(folder)])
    # An earlier run that stopped after scoring the first 3 files: their shard is on disk, --out is not.
    parts = tmp_path / "scores.jsonl.parts"
    items = [{"path": str(p), "row": i, "file_key": file_state_key(p)} for i, p in enumerate(clips[:3])]
    write_shards(spec, items, parts, RayOptions(files_per_task=3))
    (parts / "torn.parquet").write_bytes(b"PAR1 cut short")
    logged: list[str] = []
    results = run_ray_scan(spec, inputs, RayOptions(), out, "jsonl", False, log=logged.append)
    assert "3 of 6 input(s) already scanned" in " ".join(logged)
    assert any("torn.parquet: unreadable shard" in line for line in logged)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in rows] == [str(p) for p in clips] == [r.path for r in results]
    assert all(r["file_key"].startswith("size:") and r["verdict"] != "error" for r in rows)


def _actors_scoring_a_block() -> list[int]:
    """PIDs of actors inside a block: Ray titles such a process ``ray::MapWorker(...ScoreBatch)).submit``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "ScoreBatch" in title and title.strip("\0").endswith(".submit"):
                pids.append(int(entry))
    return pids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the actor's process through /proc (Linux)")
def test_a_killed_actor_loses_no_input(tmp_path):
    folder = tmp_path / "clips"
    clips = _clips(folder, 24, seconds=6.0)
    # A short hop makes each block of 3 files take a while to score: time to catch an actor inside one.
    local = _local_scores(folder, tmp_path, "--hop", "0.1").set_index("path")["fake_probability"]
    killed: list[int] = []

    def kill_one_actor_mid_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = _actors_scoring_a_block()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_one_actor_mid_run, daemon=True)
    watcher.start()
    out = tmp_path / "scores.parquet"
    spec = DetectorSpec(model="lfcc-gmm", hop_s=0.1)
    results = run_ray_scan(spec, expand_inputs([str(folder)]), RayOptions(workers=2, files_per_task=3), out,
                           "parquet", False, log=lambda _: None)
    watcher.join(timeout=1)
    assert killed, "no actor was caught scoring a block"
    rows = pd.read_parquet(out)
    assert sorted(rows["path"]) == sorted(map(str, clips))  # every input once: none lost, none twice
    assert all(r.ok for r in results)
    # Blocks of 3 files batch windows differently from one local pass over all 24, which moves float32
    # sums in the last digits; with the same blocks (the test above) the scores are bit-identical.
    np.testing.assert_allclose(rows.set_index("path")["fake_probability"].loc[local.index], local, rtol=1e-5)


def test_evaluate_on_ray_matches_local_metrics_and_scores(tmp_path):
    folder = tmp_path / "clips"
    clips = _clips(folder, 8)
    manifest = tmp_path / "m.csv"
    lines = ["path,label,source,start,end"]
    lines += [f"{p},{'fake' if i % 2 else 'real'},{'a' if i < 4 else 'b'},," for i, p in enumerate(clips)]
    lines.append(f"{clips[0]},real,b,0.5,1.9")  # a segment row goes through scan_segment on both engines
    manifest.write_text("\n".join(lines) + "\n")
    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.csv"
        result = runner.invoke(app, ["evaluate", str(manifest), "--model", "lfcc-gmm", "--by", "source",
                                     "--threads", "1", "--engine", engine, "--json", "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs[engine] = (json.loads(result.stdout), pd.read_csv(out))
    assert outputs["local"][0] == outputs["ray"][0]
    pd.testing.assert_frame_equal(outputs["local"][1], outputs["ray"][1])


def test_score_items_keeps_order_and_turns_a_model_exception_into_that_inputs_error(tmp_path):
    clips = _clips(tmp_path, 3)
    detector = DetectorSpec(model="lfcc-gmm").build()
    items = [{"path": str(p), "row": i, "file_key": "k"} for i, p in enumerate(clips)]
    rows = score_items(detector, items)
    assert [r["path"] for r in rows] == [str(p) for p in clips] and all(r["error"] is None for r in rows)

    class Exploding:
        name = "exploding"

        def scan_many(self, paths):
            raise RuntimeError("model bug")

        def scan(self, path):
            if path.endswith("001.wav"):
                raise RuntimeError("model bug")
            return detector.scan(path)

    rows = score_items(Exploding(), items)
    assert [r["error"] is None for r in rows] == [True, False, True]
    assert "model bug" in rows[1]["error"] and rows[1]["path"].endswith("001.wav")


def test_inputs_ray_gave_up_on_become_error_rows_that_a_rerun_retries():
    items = [{"path": "/data/a.wav", "row": 0, "file_key": "size:1"}, {"path": "/data/b.wav", "row": 1}]
    lost = lost_records(items, seen_rows={0}, retries=3, model="lfcc-gmm")
    assert [r["path"] for r in lost] == ["/data/b.wav"]
    assert lost[0]["verdict"] == "error" and "failed 4 times" in lost[0]["error"]
    assert lost[0]["file_key"] == LOST_KEY  # never matches a file's key: scored again next time


def test_shards_are_read_back_and_torn_ones_set_aside(tmp_path):
    logged: list[str] = []
    assert read_shards(tmp_path / "none", logged.append) == []
    (tmp_path / "x.parquet").write_bytes(b"garbage")
    assert read_shards(tmp_path, logged.append) == []
    assert (tmp_path / "x.parquet.unreadable").exists() and "unreadable shard" in logged[0]


def test_usage_errors_name_the_flag(tmp_path):
    _clips(tmp_path / "c", 1)
    assert "apply to --engine ray" in scan(tmp_path / "c", "-j", "2").output
    result = scan(tmp_path / "c", "--engine", "ray", "--format", "parquet")
    assert result.exit_code == 2 and "--format parquet needs --out" in result.output
    result = scan(tmp_path / "c", "--format", "parquet")
    assert result.exit_code == 2 and "needs --out" in result.output


def test_bench_cells_as_ray_tasks_fill_the_same_store_with_the_same_scores(tmp_path):
    import yaml

    from unmask.eval.bench import ResultStore, default_url, load_config, run_bench

    clips = _clips(tmp_path / "clips", 6)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,source\n" + "".join(
        f"{p},{'fake' if i % 2 else 'real'},{'a' if i < 3 else 'b'}\n" for i, p in enumerate(clips)))
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump({
        "name": "tiny", "seed": 3, "datasets": {"tiny": {"manifest": str(manifest)}},
        "protocols": [{"type": "test_only", "dataset": "tiny"}],
        "detectors": [{"name": "lfcc", "model": "lfcc-gmm"}],
        "corruptions": [{"name": "white-noise", "severities": [2]}], "group_by": ["source"],
    }))
    result = runner.invoke(app, ["bench", str(config), "--engine", "ray", "-j", "2", "--out",
                                 str(tmp_path / "on-ray"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["computed"] == 2
    run_bench(load_config(config), run_dir=tmp_path / "local", log=lambda _: None)
    frames = []
    for name in ("on-ray", "local"):
        store = ResultStore(default_url(tmp_path / name))
        frames.append(store.scores_frame("tiny", corruption=None).sort_values(["corruption", "clip"]))
        store.close()
    assert len(frames[0]) == len(frames[1]) == 12
    np.testing.assert_array_equal(frames[0]["fake_probability"], frames[1]["fake_probability"])
