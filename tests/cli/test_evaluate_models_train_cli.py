import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from audio_fixtures import RATE, buzzy, voiced
from unmask.cli.main import app
from unmask.data.manifest import Manifest
from unmask.detect.calibration import Calibrator
from unmask.io import save_audio
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model

runner = CliRunner()
TINY_MODEL = {"channels": [4, 6], "window_s": 1.0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    records = []
    for source in ("s1", "s2"):
        for i in range(3):
            for label, make in (("real", voiced), ("fake", buzzy)):
                path = save_audio(root / source / f"{label}{i}.flac", make(1.3, rng), RATE)
                records.append(
                    {"path": str(path), "label": label, "source": source, "system": f"tts-{i % 2}"}
                )
    Manifest.from_records(records, root).write(root / "manifest.csv")
    model = build_model("lcnn", TINY_MODEL)
    card = {
        "summary": "tiny test model",
        "study": {
            "protocol": "leave-one-source-out",
            "folds": {"s1": {"eer": 0.25, "n_real": 3, "n_fake": 3}},
        },
    }
    save_checkpoint(root / "tiny.pt", Checkpoint(model, Calibrator().to_dict(), card, "7"))
    return root


def test_evaluate_prints_pooled_and_per_group_metrics_and_writes_scores(corpus, tmp_path):
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(corpus / "manifest.csv"),
            "--model",
            str(corpus / "tiny.pt"),
            "--by",
            "source,system",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "(all)" in result.output and "s1" in result.output and "tts-1" in result.output
    scores = pd.read_csv(out)
    assert len(scores) == 12 and {"source", "system", "fake_probability"} <= set(scores.columns)
    assert scores["fake_probability"].between(0, 1).all()


def test_evaluate_json_matches_metric_definitions(corpus):
    result = runner.invoke(
        app, ["evaluate", str(corpus / "manifest.csv"), "--model", str(corpus / "tiny.pt"), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    pooled = payload["pooled"][0]
    assert pooled["n_real"] == 6 and pooled["n_fake"] == 6 and 0 <= pooled["eer"] <= 1


def test_evaluate_reports_unreadable_clips_and_exits_1(corpus, tmp_path):
    frame = pd.read_csv(corpus / "manifest.csv")
    frame["path"] = [str(corpus / p) for p in frame["path"]]
    frame.loc[len(frame)] = {
        "path": str(tmp_path / "gone.wav"),
        "label": "fake",
        "source": "s1",
        "system": "x",
    }
    frame.to_csv(tmp_path / "m.csv", index=False)
    result = runner.invoke(app, ["evaluate", str(tmp_path / "m.csv"), "--model", str(corpus / "tiny.pt")])
    assert result.exit_code == 1
    output = result.output.replace("\n", "")  # Rich wraps long temporary paths at the terminal width
    assert "gone.wav" in output and "could not be scored" in output


def test_evaluate_bad_usage_exits_2(corpus):
    bad_column = runner.invoke(
        app, ["evaluate", str(corpus / "manifest.csv"), "--model", str(corpus / "tiny.pt"), "--by", "colour"]
    )
    assert bad_column.exit_code == 2 and "colour" in bad_column.output
    bad_model = runner.invoke(app, ["evaluate", str(corpus / "manifest.csv"), "--model", "nope"])
    assert bad_model.exit_code == 2 and "unknown model" in bad_model.output


def test_models_list_and_show_card(corpus):
    listing = runner.invoke(app, ["models", "--json"])
    assert listing.exit_code == 0 and "lcnn" in json.loads(listing.stdout)["architectures"]
    shown = runner.invoke(app, ["models", "show", str(corpus / "tiny.pt")])
    assert shown.exit_code == 0
    assert "tiny test model" in shown.output and "0.250" in shown.output
    card = json.loads(runner.invoke(app, ["models", "show", str(corpus / "tiny.pt"), "--json"]).stdout)
    assert card["version"] == "7" and card["architecture"] == "lcnn"
    assert runner.invoke(app, ["models", "show", "no-such"]).exit_code == 2


def test_train_cli_runs_a_recipe(corpus, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "manifests": [str(corpus / "manifest.csv")],
                "leave_one_out": "source",
                "trainer": {"model_config": TINY_MODEL, "epochs": 1, "steps_per_epoch": 2, "batch_size": 4},
                "out_dir": str(tmp_path / "run"),
            }
        )
    )
    result = runner.invoke(app, ["-q", "train", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "held-out s1: EER" in result.output and (tmp_path / "run" / "model.pt").exists()
    assert runner.invoke(app, ["train", str(tmp_path / "missing.yaml")]).exit_code == 2


def test_version_command():
    result = runner.invoke(app, ["version", "--json"])
    assert result.exit_code == 0 and "torch" in json.loads(result.stdout)


def test_evaluate_scores_segments_given_by_start_end(corpus, tmp_path):
    frame = pd.read_csv(corpus / "manifest.csv")
    frame["path"] = [str(corpus / p) for p in frame["path"]]
    frame["start"] = ""
    frame["end"] = ""
    frame.loc[0, ["start", "end"]] = ["0.2", "0.9"]
    frame.to_csv(tmp_path / "seg.csv", index=False)
    out = tmp_path / "scores.csv"
    result = runner.invoke(
        app, ["evaluate", str(tmp_path / "seg.csv"), "--model", str(corpus / "tiny.pt"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert len(scores) == 12 and scores["fake_probability"].notna().all()


def test_evaluate_tables_keep_group_names_whole_at_80_columns():
    """Per-source tables: a name that fits is never wrapped; one too long is cut with a key, in full below."""
    import io

    from rich.console import Console

    from unmask.cli.evaluate import print_metrics_table
    from unmask.eval.metrics import summarize_by

    rng = np.random.default_rng(0)
    sources = ["Edresson/YourTTS", "coqui-ai/TTS-vits-ljs", "elevenlabs-multilingual-v2-2024-studio-voices"]
    frame = pd.DataFrame({
        "fake_probability": rng.random(60),
        "label": ["real", "fake"] * 30,
        "source": [sources[i % 3] for i in range(60)],
    })
    stream = io.StringIO()
    target = Console(file=stream, width=80, color_system=None)
    title = "a-model on a-long-manifest-name.csv: source"
    print_metrics_table(target, summarize_by(frame, "source"), title=title)
    lines = stream.getvalue().splitlines()
    assert max(map(len, lines)) <= 80, stream.getvalue()
    first_cells = [line.split()[0] for line in lines if line.strip()]
    assert "Edresson/YourTTS" in first_cells and "coqui-ai/TTS-vits-ljs" in first_cells
    long_row = next(line for line in lines if line.startswith("elevenlabs") and "[1]" in line)
    assert len(long_row.split()) >= 8  # the metrics stay on the name's line
    assert any(line.strip() == f"[1] {sources[2]}" for line in lines)


def test_evaluate_with_auto_routes_each_row_and_its_segment(tmp_path):
    """`--model auto` in evaluate is the routed detector `unmask scan --model auto` builds: music rows go
    to the bundled music model, and a row's start/end segment is routed alone."""
    from routing_fixtures import RATE as MUSIC_RATE
    from routing_fixtures import music

    records = []
    for i, label in enumerate(("real", "fake", "real")):
        path = save_audio(tmp_path / f"song{i}.flac", music(12, 20 + i), MUSIC_RATE)
        records.append({"path": str(path), "label": label, "source": "songs"})
    frame = pd.DataFrame(records)
    frame["start"], frame["end"] = ["", "", "1.0"], ["", "", "11.0"]
    frame.to_csv(tmp_path / "songs.csv", index=False)
    out = tmp_path / "scores.csv"
    args = ["evaluate", str(tmp_path / "songs.csv"), "--model", "auto", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert len(scores) == 3 and scores["fake_probability"].between(0, 1).all()
