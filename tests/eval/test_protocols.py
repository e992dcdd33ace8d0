"""Protocols: in-domain, cross-dataset and leave-one-group-out splits, and their written records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unmask.data.manifest import Manifest, read_manifest
from unmask.errors import ManifestError
from unmask.eval.protocols import (
    cross_dataset,
    in_domain,
    leave_one_group_out,
    sample_per_group,
)
from unmask.eval.protocols import (
    test_only as make_test_only,
)


def _manifest(root: Path, n: int = 40) -> Manifest:
    records = []
    for i in range(n):
        fake = i % 4 != 0  # 3 fakes per real
        records.append(
            {
                "path": f"clips/{i:03d}.wav",
                "label": "fake" if fake else "real",
                "speaker": f"spk{i % 8}",
                "source": "a" if i < n // 2 else "b",
                "language": ["en", "pt", "ja"][i % 3],
                "system": f"tts{i % 3}" if fake else "human",
            }
        )
    return Manifest.from_records(records, root)


def _paths(manifest: Manifest) -> set[str]:
    return {str(p) for p in manifest.abs_paths()}


def test_in_domain_is_a_stratified_partition_fixed_by_its_seed(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    split = in_domain(manifest, test_fraction=0.5, seed=3)
    train, test = _paths(split.train), _paths(split.test)
    assert train.isdisjoint(test) and train | test == _paths(manifest)
    assert len(split.test) == 20
    assert split.test.labels.count("real") == 5  # a quarter, as in the whole manifest
    assert _paths(in_domain(manifest, test_fraction=0.5, seed=3).test) == test
    assert _paths(in_domain(manifest, test_fraction=0.5, seed=4).test) != test
    assert split.seed == 3 and split.protocol == "in_domain"


def test_in_domain_by_group_never_splits_a_group(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    split = in_domain(manifest, test_fraction=0.25, seed=0, group_column="speaker")
    train_speakers = set(split.train.column("speaker"))
    test_speakers = set(split.test.column("speaker"))
    assert train_speakers.isdisjoint(test_speakers)
    assert len(test_speakers) == 2 and len(train_speakers) == 6  # 25% of the 8 speakers
    assert len(split.train) + len(split.test) == len(manifest)


def test_leave_one_group_out_holds_each_value_out_once(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    splits = leave_one_group_out(manifest, "language")
    assert [s.name for s in splits] == ["logo-language=en", "logo-language=ja", "logo-language=pt"]
    tested = [p for s in splits for p in _paths(s.test)]
    assert sorted(tested) == sorted(_paths(manifest))  # every row tested exactly once
    for split in splits:
        held_out = split.params["held_out"]
        assert set(split.test.column("language")) == {held_out}
        assert held_out not in set(split.train.column("language"))


def test_leave_one_system_out_shares_the_reals(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    splits = leave_one_group_out(manifest, "system", reals="shared")
    assert [s.params["held_out"] for s in splits] == ["tts0", "tts1", "tts2"]  # "human" is no generator
    reals = _paths(manifest.filter(label="real"))
    for split in splits:
        fakes = split.test.filter(label="fake")
        assert set(fakes.column("system")) == {split.params["held_out"]}
        assert _paths(split.test.filter(label="real")) == reals
        assert split.params["held_out"] not in set(split.train.filter(label="fake").column("system"))


def test_leave_one_group_out_rejects_unknown_columns_and_values(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    with pytest.raises(ManifestError, match="no column 'codec'"):
        leave_one_group_out(manifest, "codec")
    with pytest.raises(ManifestError, match="'xx'"):
        leave_one_group_out(manifest, "language", groups=["xx"])
    with pytest.raises(ValueError, match="reals"):
        leave_one_group_out(manifest, "language", reals="some")


def test_cross_dataset_and_test_only_keep_their_manifests(tmp_path: Path) -> None:
    a, b = _manifest(tmp_path / "a", 8), _manifest(tmp_path / "b", 12)
    split = cross_dataset(a, b, name="a->b")
    assert _paths(split.train) == _paths(a) and _paths(split.test) == _paths(b)
    only = make_test_only(b)
    assert only.train is None and _paths(only.test) == _paths(b)


def test_split_write_records_the_exact_rows_and_seed(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "data")
    split = in_domain(manifest, test_fraction=0.5, seed=9, group_column="source")
    written = split.write(tmp_path / "run" / "split")
    assert _paths(read_manifest(written["test"])) == _paths(split.test)
    assert _paths(read_manifest(written["train"])) == _paths(split.train)
    info = json.loads(written["info"].read_text())
    assert info["seed"] == 9 and info["params"] == {"test_fraction": 0.5, "group_column": "source"}
    assert info["counts"]["test"]["n"] == len(split.test)


def test_sample_per_group_caps_each_combination(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    sample = sample_per_group(manifest, ["source", "label"], n=3, seed=1)
    counts = sample.frame.groupby(["source", "label"]).size().to_dict()
    assert counts == {("a", "fake"): 3, ("a", "real"): 3, ("b", "fake"): 3, ("b", "real"): 3}
    assert _paths(sample_per_group(manifest, ["source", "label"], n=3, seed=1)) == _paths(sample)
    with pytest.raises(ManifestError, match="codec"):
        sample_per_group(manifest, ["codec"], n=1)


def test_in_domain_rejects_a_bad_fraction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        in_domain(_manifest(tmp_path), test_fraction=1.0)


def test_without_shared_drops_training_rows_of_a_held_out_song():
    from unmask.eval.protocols import without_shared

    songs = ["a", "a", "b", "c", "c"]
    test = [True, False, False, False, True]  # song a's original and song c's reconstruction held out
    assert without_shared([not t for t in test], test, songs).tolist() == [False, False, True, False, False]
