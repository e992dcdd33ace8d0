"""The bench runner on a tiny generated corpus with the bundled default model: cells, resume,
failed cells, corrupted audio, the SQLite and PostgreSQL stores, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from unmask.cli.main import app
from unmask.errors import UnmaskError
from unmask.eval.bench import CLEAN, ResultStore, default_url, load_config, run_bench
from unmask.eval.bench.store import CellKey
from unmask.eval.metrics import compute_eer, summarize


def _silent(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory: pytest.TempPathFactory, corpus: Path, make_config) -> dict:
    """A run stopped after 2 of its cells, then resumed: both outcomes and the run directory.

    Detectors: the default model and a checkpoint file that is corrupt (every one of its cells fails).
    Splits: test_only plus leave-one-source-out (2 splits); conditions: clean and white-noise@2.
    """
    directory = tmp_path_factory.mktemp("bench")
    broken = directory / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    path = make_config(
        directory,
        corpus,
        detectors=[{"name": "default", "model": "default"}, {"name": "broken", "model": str(broken)}],
        protocols=[
            {"type": "test_only", "dataset": "tiny"},
            {"type": "leave_one_group_out", "dataset": "tiny", "column": "source"},
        ],
        corruptions=[{"name": "white-noise", "severities": [2]}],
    )
    config = load_config(path)
    run_dir = directory / "run"
    first = run_bench(config, run_dir=run_dir, max_cells=2, log=_silent)
    store = ResultStore(default_url(run_dir))
    after_first = store.cells_frame("tiny")
    store.close()
    second = run_bench(config, run_dir=run_dir, log=_silent)
    return {
        "config": config,
        "path": path,
        "run_dir": run_dir,
        "first": first,
        "second": second,
        "after_first": after_first,
    }


def test_cells_are_detectors_x_splits_x_conditions(resumed_run: dict) -> None:
    first = resumed_run["first"]
    assert first.planned == 2 * 3 * 2  # 2 detectors, 3 splits, clean + 1 corruption
    assert len(first.computed) == 2 and first.remaining == 10 and first.skipped == 0


def test_resume_computes_only_the_cells_left(resumed_run: dict) -> None:
    first, second = resumed_run["first"], resumed_run["second"]
    assert second.skipped == 2 and len(second.computed) == 10
    assert set(first.computed).isdisjoint(second.computed)
    store = ResultStore(default_url(resumed_run["run_dir"]))
    cells = store.cells_frame("tiny").set_index("id")
    store.close()
    before = resumed_run["after_first"].set_index("id")
    done_first = before[before["status"] == "done"].index
    assert len(done_first) == 2
    # The first invocation's cells were not touched again: same finish time, one attempt each.
    assert (cells.loc[done_first, "finished_at"] == before.loc[done_first, "finished_at"]).all()
    assert (cells["attempts"] == 1).all()
    third = run_bench(resumed_run["config"], run_dir=resumed_run["run_dir"], log=_silent)
    assert third.skipped == 6 and len(third.computed) == 6  # only the broken detector's 6 cells are retried


def test_failed_cells_keep_their_error_and_the_rest_go_on(resumed_run: dict) -> None:
    store = ResultStore(default_url(resumed_run["run_dir"]))
    cells = store.cells_frame("tiny")
    store.close()
    broken = cells[cells["detector"] == "broken"]
    assert (broken["status"] == "failed").all() and len(broken) == 6
    assert broken["error"].str.contains("broken.pt").all()
    assert (cells.loc[cells["detector"] == "default", "status"] == "done").all()


def test_scores_and_metrics_are_stored_per_clip_and_recomputable(resumed_run: dict) -> None:
    store = ResultStore(default_url(resumed_run["run_dir"]))
    scores = store.scores_frame("tiny", corruption=None)
    metrics = store.metrics_frame("tiny")
    store.close()
    clean = scores[(scores["split"] == "tiny") & (scores["corruption"] == CLEAN)]
    assert len(clean) == 9  # 8 clips + the broken file, which is kept as an error row
    broken_clip = clean[clean["path"].str.endswith("broken.wav")]
    assert broken_clip["fake_probability"].isna().all() and broken_clip["error"].notna().all()
    scored = clean[clean["error"].isna()]
    assert scored["fake_probability"].between(0, 1).all()
    pooled = metrics[
        (metrics["split"] == "tiny") & (metrics["corruption"] == CLEAN) & (metrics["grouping"] == "(all)")
    ]
    expected = summarize(scored["fake_probability"], scored["label"])
    assert pooled["n"].item() == 8
    assert pooled["eer"].item() == pytest.approx(compute_eer(scored["fake_probability"], scored["label"]).eer)
    assert pooled["ece"].item() == pytest.approx(expected["ece"])
    by_source = metrics[
        (metrics["split"] == "tiny") & (metrics["corruption"] == CLEAN) & (metrics["grouping"] == "source")
    ]
    assert sorted(by_source["group_value"]) == ["src-a", "src-b"]
    logo = scores[scores["split"] == "tiny:logo-source=src-a"]
    assert {json.loads(g)["source"] for g in logo["groups"]} == {"src-a"}


def test_corruptions_change_the_audio_deterministically(resumed_run: dict, tmp_path: Path) -> None:
    store = ResultStore(default_url(resumed_run["run_dir"]))
    scores = store.scores_frame("tiny", corruption=None)
    store.close()
    mine = scores[(scores["split"] == "tiny") & scores["error"].isna() & (scores["detector"] == "default")]
    table = mine.pivot_table(index="clip", columns="corruption", values="fake_probability")
    assert not np.allclose(table["white-noise"], table[CLEAN])
    # A fresh run of only the noisy cell gives the very same scores: the noise seed is seed + clip number.
    config = load_config(resumed_run["path"])
    again = run_bench(config, run_dir=tmp_path / "again", log=_silent, max_cells=2)
    assert [k.corruption for k in again.computed] == [CLEAN, "white-noise"]
    other = ResultStore(default_url(tmp_path / "again"))
    rerun = other.scores_frame("tiny", corruption="white-noise")
    other.close()
    rerun = rerun[rerun["error"].isna()].set_index("clip")["fake_probability"]
    np.testing.assert_allclose(rerun.sort_index(), table["white-noise"].sort_index())


def test_split_files_are_written_into_the_run_directory(resumed_run: dict) -> None:
    run_dir = resumed_run["run_dir"]
    folders = sorted(p.name for p in (run_dir / "splits").iterdir())
    assert folders == ["tiny", "tiny_logo-source=src-a", "tiny_logo-source=src-b"]
    info = json.loads((run_dir / "splits" / "tiny_logo-source=src-a" / "split.json").read_text())
    assert info["params"]["held_out"] == "src-a" and info["counts"]["test"]["n"] == 4
    assert json.loads((run_dir / "config.json").read_text())["seed"] == 11


def test_an_interrupted_running_cell_is_recomputed(tmp_path: Path, corpus: Path, make_config) -> None:
    config = load_config(make_config(tmp_path, corpus, corruptions=[]))
    run_dir = tmp_path / "run"
    run_bench(config, run_dir=run_dir, log=_silent)
    store = ResultStore(default_url(run_dir))
    with store.engine.begin() as conn:  # what a kill -9 mid-cell leaves behind
        conn.execute(sa.text("UPDATE cells SET status = 'running'"))
    store.close()
    again = run_bench(config, run_dir=run_dir, log=_silent)
    assert again.computed == [CellKey("default", "tiny", CLEAN, 0)]


def test_a_changed_config_does_not_resume_an_old_run(tmp_path: Path, corpus: Path, make_config) -> None:
    path = make_config(tmp_path, corpus, corruptions=[])
    run_bench(load_config(path), run_dir=tmp_path / "run", max_cells=1, log=_silent)
    changed = load_config(make_config(tmp_path, corpus, corruptions=[], seed=99))
    with pytest.raises(UnmaskError, match="different configuration"):
        run_bench(changed, run_dir=tmp_path / "run", log=_silent)


def test_postgresql_store(tmp_path: Path, corpus: Path, make_config, postgres_url: str) -> None:
    config = load_config(make_config(tmp_path, corpus, corruptions=[{"name": "gain", "severities": [2]}]))
    first = run_bench(config, run_dir=tmp_path / "run", store_url=postgres_url, max_cells=1, log=_silent)
    second = run_bench(config, run_dir=tmp_path / "run", store_url=postgres_url, log=_silent)
    assert len(first.computed) == 1 and second.skipped == 1 and len(second.computed) == 1
    assert not (tmp_path / "run" / "results.sqlite").exists()
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cells WHERE status = 'done'")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM scores")).scalar() == 2 * 9
        assert engine.dialect.name == "postgresql"
    engine.dispose()
    result = CliRunner().invoke(app, ["report", postgres_url, "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert "| default | tiny | 8 |" in (tmp_path / "report" / "report.md").read_text()


def test_cli_bench_exit_codes_and_parallel_workers(tmp_path: Path, corpus: Path, make_config) -> None:
    path = make_config(tmp_path, corpus, corruptions=[{"name": "gain", "severities": [1]}])
    runner = CliRunner()
    result = runner.invoke(
        app, ["bench", str(path), "--out", str(tmp_path / "par"), "--workers", "2", "--json"]
    )
    assert result.exit_code == 1, result.output  # the broken clip could not be scored
    summary = json.loads(result.stdout)
    assert summary["computed"] == 2 and summary["failed"] == [] and summary["failed_clips"] == 2
    serial = run_bench(load_config(path), run_dir=tmp_path / "serial", log=_silent)
    assert len(serial.computed) == 2
    frames = []
    for name in ("par", "serial"):
        store = ResultStore(default_url(tmp_path / name))
        frames.append(store.scores_frame("tiny", corruption=None).sort_values(["corruption", "clip"]))
        store.close()
    np.testing.assert_allclose(
        frames[0]["fake_probability"].fillna(-1), frames[1]["fake_probability"].fillna(-1), rtol=1e-5
    )
    bad = runner.invoke(app, ["bench", str(tmp_path / "none.yaml")])
    assert bad.exit_code == 2 and "cannot read bench config" in " ".join(bad.output.split())


def test_the_fingerprint_follows_manifest_and_model_file_contents(tmp_path: Path, corpus: Path, make_config):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"version 1")
    manifest = tmp_path / "manifest.csv"  # a copy: the corpus fixture is shared by the session
    manifest.write_text(corpus.read_text())
    detectors = [{"name": "m", "model": str(checkpoint)}]
    path = make_config(tmp_path, manifest, corruptions=[], detectors=detectors)
    before = load_config(path).fingerprint()
    assert load_config(path).fingerprint() == before  # stable
    digests = load_config(path).file_digests()
    assert digests["detector:m"] is not None and digests["dataset:tiny"] is not None
    checkpoint.write_bytes(b"version 2")  # retrained in place
    after_model = load_config(path).fingerprint()
    assert after_model != before
    assert load_config(path).datasets["tiny"].manifest == manifest
    manifest.write_text(manifest.read_text() + "\n")  # the manifest edited in place
    assert load_config(path).fingerprint() != after_model


def test_model_auto_routes_each_clip_as_scan_does(tmp_path: Path, make_config) -> None:
    """A bench detector ``model: auto`` is the routed detector of ``unmask scan --model auto``: a song is
    judged by the music model, a speech clip by the speech default, with the same scores."""
    from routing_fixtures import RATE, music
    from speech_clips import real_speech
    from unmask.detect.routing import RoutedDetector
    from unmask.io import save_audio

    save_audio(tmp_path / "song.flac", music(30, 3), RATE)
    save_audio(tmp_path / "talk.flac", real_speech(8.0, tmp_path), RATE)
    (tmp_path / "manifest.csv").write_text("path,label,source\nsong.flac,fake,a\ntalk.flac,real,b\n")
    path = make_config(tmp_path / "bench", tmp_path / "manifest.csv", corruptions=[], group_by=["source"],
                       detectors=[{"name": "routed", "model": "auto"}])
    config = load_config(path)
    run_bench(config, run_dir=tmp_path / "run", log=_silent)
    store = ResultStore(default_url(tmp_path / "run"))
    scores = store.scores_frame("tiny").set_index("path").fake_probability
    store.close()
    routed = RoutedDetector.load(device="cpu")
    for name in ("song.flac", "talk.flac"):
        expected = routed.scan(tmp_path / name)
        assert expected.ok
        assert scores[str(tmp_path / name)] == pytest.approx(expected.fake_probability, abs=1e-6)
    assert [p.model for p in routed.scan(tmp_path / "song.flac").parts] == ["music"]
    assert "speech" in [p.content for p in routed.scan(tmp_path / "talk.flac").parts]
    assert config.file_digests()["detector:routed:music"] is not None  # retraining music starts a new run
    windowed = make_config(tmp_path / "windowed", tmp_path / "manifest.csv", corruptions=[], group_by=[],
                           detectors=[{"name": "routed", "model": "auto", "scan": {"window_s": 2.0}}])
    with pytest.raises(UnmaskError, match="cannot be set with --model auto"):
        from unmask.eval.bench.runner import build_detector

        build_detector(load_config(windowed).detectors[0])
