"""``unmask report``: Markdown + self-contained HTML + PNG figures computed from the stored results."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unmask.cli.main import app
from unmask.eval.bench import ResultStore, default_url, load_config, run_bench
from unmask.eval.metrics import compute_eer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, corpus: Path, make_config) -> Path:
    directory = tmp_path_factory.mktemp("report")
    config = load_config(
        make_config(directory, corpus, corruptions=[{"name": "white-noise", "severities": [1, 3]}])
    )
    run_bench(config, run_dir=directory / "run", log=lambda _: None)
    result = CliRunner().invoke(app, ["report", str(directory / "run")])
    assert result.exit_code == 0, result.output
    return directory / "run"


def test_report_files_and_figures(report_dir: Path) -> None:
    out = report_dir / "report"
    names = {p.name for p in out.iterdir()}
    assert {
        "report.md",
        "report.html",
        "det-tiny.png",
        "calibration-tiny.png",
        "robustness-tiny.png",
        "eer-by-source.png",
        "eer-by-language.png",
    } <= names
    for png in out.glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)


def test_leaderboard_eer_is_the_eer_of_the_stored_scores(report_dir: Path) -> None:
    store = ResultStore(default_url(report_dir))
    scores = store.scores_frame("tiny")
    store.close()
    scored = scores[scores["fake_probability"].notna()]
    eer = compute_eer(scored["fake_probability"], scored["label"]).eer
    markdown = (report_dir / "report" / "report.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| default | tiny |"))
    assert f"| {eer:.4f} |" in row
    assert "white-noise@3" in markdown and "EER by source" in markdown
    assert "Failed or unfinished cells" in markdown  # the undecodable clip is reported, not hidden


def test_html_is_self_contained(report_dir: Path) -> None:
    html = (report_dir / "report" / "report.html").read_text()
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == 5 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(PNG_MAGIC)
    assert "http://" not in html and "https://" not in html and "<link" not in html


def test_report_refuses_a_folder_without_results(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no results.sqlite here" in " ".join(result.output.split())
