"""Bench YAML: a valid file parses; each kind of mistake names the key that is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from unmask.eval.bench import BenchConfigError, load_config
from unmask.eval.bench.config import check_corruptions


def _edit(path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw.update(changes)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_valid_config_parses_with_paths_resolved(tmp_path: Path, corpus: Path, make_config) -> None:
    path = make_config(tmp_path, os.path.relpath(corpus, tmp_path))  # relative to the config's folder
    config = load_config(path)
    assert config.datasets["tiny"].manifest == corpus.resolve()
    assert [d.name for d in config.detectors] == ["default"]
    assert check_corruptions(config) == [("white-noise", 2), ("gain", 1)]


@pytest.mark.parametrize(
    ("changes", "key", "reason"),
    [
        ({"protocols": [{"type": "k_fold", "dataset": "tiny"}]}, "protocols[0].type", "unknown protocol"),
        ({"protocols": [{"type": "test_only", "dataset": "nope"}]}, "protocols[0].dataset", "no dataset"),
        (
            {"protocols": [{"type": "leave_one_group_out", "dataset": "tiny"}]},
            "protocols[0].column",
            "required",
        ),
        ({"detectors": [{"name": "x", "model": "missing.pt"}]}, "detectors[0].model", "checkpoint not found"),
        ({"detectors": [{"name": "x"}]}, "detectors[0]", "exactly one of"),
        (
            {"corruptions": [{"name": "gain", "severities": [0]}]},
            "corruptions[0].severities",
            "integers >= 1",
        ),
        ({"scoring": {"crop_s": -1}}, "scoring.crop_s", "> 0"),
        ({"colour": "red"}, "colour", "unknown key"),
    ],
)
def test_mistakes_name_the_key(
    tmp_path: Path, corpus: Path, make_config, changes: dict, key: str, reason: str
) -> None:
    path = _edit(make_config(tmp_path, corpus), **changes)
    with pytest.raises(BenchConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"key '{key}'" in message and reason in message and str(path) in message


def test_unknown_corruption_and_severity_are_checked_against_the_registry(
    tmp_path: Path, corpus: Path, make_config
) -> None:
    config = load_config(_edit(make_config(tmp_path, corpus), corruptions=["no-such-thing"]))
    with pytest.raises(BenchConfigError, match="unknown corruption 'no-such-thing'"):
        check_corruptions(config)
    config = load_config(
        _edit(make_config(tmp_path, corpus), corruptions=[{"name": "gain", "severities": [99]}])
    )
    with pytest.raises(BenchConfigError, match="severities 1.."):
        check_corruptions(config)


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("datasets: [unclosed\n")
    with pytest.raises(BenchConfigError, match="not valid YAML"):
        load_config(path)


def test_fingerprint_changes_with_results_relevant_settings(
    tmp_path: Path, corpus: Path, make_config
) -> None:
    path = make_config(tmp_path, corpus)
    first = load_config(path).fingerprint()
    assert load_config(path).fingerprint() == first
    assert load_config(_edit(path, seed=12)).fingerprint() != first


@pytest.mark.parametrize(
    "corruptions",
    [
        [{"name": "gain", "severities": [1, 1]}],
        [{"name": "gain", "severities": [2]}, {"name": "gain", "severities": [1, 2]}],
        ["gain", {"name": "gain", "severities": [3]}],
    ],
)
def test_a_cell_asked_for_twice_is_a_config_error(
    tmp_path: Path, corpus: Path, make_config, corruptions: list
) -> None:
    # Planned twice, the cell would hit the store's unique (run, detector, split, corruption, severity)
    # constraint as a raw database error in the middle of the run.
    config = load_config(_edit(make_config(tmp_path, corpus), corruptions=corruptions))
    with pytest.raises(BenchConfigError, match="gain severity [0-9] is asked for twice"):
        check_corruptions(config)
