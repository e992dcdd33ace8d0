"""describe(): counts/hours, probing when columns are absent, duplicates, missing files; check_manifest()."""

from __future__ import annotations

import pytest

from unmask.data.check import check_manifest
from unmask.data.describe import content_hash, describe
from unmask.data.manifest import Manifest, read_manifest
from unmask.errors import ManifestError


def test_describe_probes_files_and_finds_duplicates(tmp_path, audio):
    a = audio(tmp_path / "a.wav", seconds=1.0, rate=16000, seed=1)
    copy = tmp_path / "copy.wav"
    copy.write_bytes(a.read_bytes())
    twin = tmp_path / "twin.wav"
    twin.write_bytes(a.read_bytes())
    audio(tmp_path / "b.flac", seconds=2.0, rate=22050, seed=2)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    manifest = Manifest.from_records(
        [
            {"path": "a.wav", "label": "real", "source": "s1", "system": ""},
            {"path": "copy.wav", "label": "fake", "source": "s1", "system": "X"},
            {"path": "twin.wav", "label": "real", "source": "s2", "system": ""},
            {"path": "b.flac", "label": "fake", "source": "s2", "system": "Y"},
            {"path": "gone.wav", "label": "fake", "source": "s2", "system": "Y"},
            {"path": "junk.wav", "label": "real", "source": "s3", "system": ""},
        ],
        tmp_path,
    )
    seen = []

    class Recorder:
        def add_task(self, description, total=None):
            seen.append([description, total, 0])
            return len(seen) - 1

        def advance(self, task, advance=1):
            seen[task][2] += advance

    d = describe(manifest, progress=Recorder())
    assert d["files"] == 6
    assert d.duration_from == "probed headers" and d.sample_rate_from == "probed headers"
    assert d.sample_rates == {"16000": 3, "22050": 1}
    assert d.hours == pytest.approx(5.0 / 3600, rel=1e-3)
    assert d.durations == {"1-2 s": 3, "2-4 s": 1}
    assert d.labels["fake"].files == 3 and d.labels["real"].files == 3
    sources = {g.value: (g.by_label["real"], g.by_label["fake"]) for g in d.groups["source"]}
    assert sources == {"s1": (1, 1), "s2": (1, 2), "s3": (1, 0)}
    assert [m["path"] for m in d.missing] == [str(tmp_path / "gone.wav")]
    assert d.missing[0]["line"] == 6
    assert [u["path"] for u in d.unreadable] == [str(tmp_path / "junk.wav")]
    assert len(d.duplicates) == 1
    group = d.duplicates[0]
    assert [r["path"] for r in group["rows"]] == [str(a), str(copy), str(twin)]
    assert group["conflicting"] and d.conflicting_duplicates == 1
    assert {s[0] for s in seen} == {"probing headers", "hashing files"}
    assert all(done == total for _, total, done in seen)
    assert d.to_dict()["labels"]["real"]["files"] == 3


def test_describe_uses_columns_segments_and_extra_groups(tmp_path, audio):
    audio(tmp_path / "x.wav")
    manifest = Manifest.from_records(
        [
            {"path": "x.wav", "label": "real", "split": "train", "duration_s": 30.0, "original_sr": 48000},
            {
                "path": "x.wav",
                "label": "fake",
                "split": "dev",
                "start": 1.0,
                "end": 4.0,
                "original_sr": 16000,
                "duration_s": 30.0,
            },
        ],
        tmp_path,
    )
    d = describe(manifest, hash_content=False, by=["split"])
    assert d.duplicates is None
    assert d.sample_rates == {"16000": 1, "48000": 1} and d.sample_rate_from == "column original_sr"
    assert d.hours == pytest.approx(33.0 / 3600)
    assert {g.value: g.files for g in d.groups["split"]} == {"train": 1, "dev": 1}
    assert d.duration_summary["max"] == 30.0
    with pytest.raises(ManifestError, match="no column"):
        describe(manifest, by=["speaker"])


def test_content_hash_depends_on_bytes_only(tmp_path, audio):
    a = audio(tmp_path / "a.wav", seed=1)
    b = audio(tmp_path / "b.wav", seed=2)
    (tmp_path / "c.wav").write_bytes(a.read_bytes())
    assert content_hash(a) == content_hash(tmp_path / "c.wav") != content_hash(b)


def test_check_manifest_flags_missing_unreadable_and_out_of_range(tmp_path, audio):
    audio(tmp_path / "ok.wav", seconds=1.0)
    (tmp_path / "bad.wav").write_bytes(b"RIFF....nonsense")
    manifest = Manifest.from_records(
        [
            {"path": "ok.wav", "label": "real"},
            {"path": "ok.wav", "label": "fake", "start": 0.2, "end": 0.8},
            {"path": "ok.wav", "label": "fake", "start": 0.5, "end": 3.0},
            {"path": "bad.wav", "label": "fake"},
            {"path": "none.wav", "label": "real"},
        ],
        tmp_path,
    )
    problems = check_manifest(manifest)
    assert [(p.line, p.reason.split(" ")[0]) for p in problems][0] == (4, "segment")
    assert [p.line for p in problems] == [4, 5, 6]
    assert problems[2].reason == "file not found"


def test_describe_realworld_manifest(realworld_manifest):
    d = describe(read_manifest(realworld_manifest))
    assert d.files == 1179 and not d.missing and not d.unreadable
    assert d.duration_from == "column duration_s"
    assert d.labels["real"].files + d.labels["fake"].files == 1179
    assert {g.value for g in d.groups["source"]} >= {"Edresson/YourTTS", "r9y9/r9y9.github.io"}
    assert 2.0 < d.hours < 3.0
