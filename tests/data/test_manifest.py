"""The manifest CSV protocol: validation with file/line/column, round trips, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmask.data.manifest import Manifest, normalize_label, read_manifest
from unmask.errors import ManifestError


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_read_resolves_relative_paths_against_the_manifest_folder(tmp_path, audio):
    audio(tmp_path / "clips" / "a.wav")
    absolute = audio(tmp_path / "elsewhere" / "b.flac")
    manifest = read_manifest(
        write_csv(
            tmp_path / "m.csv", f"path,label,system,notes\nclips/a.wav,real,,hello\n{absolute},fake,X,\n"
        )
    )
    assert len(manifest) == 2
    assert manifest.root == tmp_path
    assert manifest.resolve(0) == tmp_path / "clips" / "a.wav"
    assert manifest.abs_paths() == [tmp_path / "clips" / "a.wav", absolute]
    rows = list(manifest)
    assert rows[0].label == "real" and rows[0].system is None and rows[0].meta == {"notes": "hello"}
    assert rows[1].system == "X" and rows[1].target == 1 and rows[1].is_fake
    assert manifest.exists() == [True, True]
    assert manifest.metadata_columns == ["notes"]


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("path,label\na.wav,real\nb.wav,bonafide\n", 3, "label", "'bonafide'"),
        ("path,label\na.wav,Real\n", 2, "label", "'Real'"),
        ("path,label\na.wav,real\n,fake\n", 3, "path", "empty path"),
        ("path,label,start,end\na.wav,real,0.5,abc\n", 2, "end", "not a number"),
        ("path,label,start,end\na.wav,real,2,1\n", 2, "end", "not after start"),
        ("path,label,start\na.wav,real,-1\n", 2, "start", ">= 0"),
        ("file,label\na.wav,real\n", 1, None, "missing required column(s) path"),
    ],
)
def test_validation_errors_name_file_line_and_column(tmp_path, text, line, column, fragment):
    path = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    error = caught.value
    assert error.path == str(path)
    assert error.line == line
    assert error.column == column
    assert fragment in str(error)
    if column:
        assert f"line {line}, column '{column}'" in str(error)


def test_bad_label_hint_suggests_the_manifest_word(tmp_path):
    with pytest.raises(ManifestError) as caught:
        read_manifest(write_csv(tmp_path / "m.csv", "path,label\na.wav,spoof\nb.wav,spoof\n"))
    assert caught.value.hint and "'fake'" in caught.value.hint
    assert "1 more row(s)" in str(caught.value)


def test_unreadable_inputs_raise_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "absent.csv")
    with pytest.raises(ManifestError, match="empty file"):
        read_manifest(write_csv(tmp_path / "empty.csv", ""))
    with pytest.raises(ManifestError, match="duplicate column"):
        read_manifest(write_csv(tmp_path / "dup.csv", "path,label,label\na,real,real\n"))
    with pytest.raises(ManifestError, match="well-formed"):
        read_manifest(write_csv(tmp_path / "ragged.csv", "path,label\na.wav,real,extra,cells\n"))


def test_write_round_trips_text_exactly_and_rebases_paths(tmp_path, audio):
    audio(tmp_path / "data" / "x.wav")
    outside = audio(tmp_path / "other" / "y.wav")
    source = write_csv(
        tmp_path / "data" / "m.csv",
        f'path,label,duration_s,note\nx.wav,real,1.50,"a, b"\n{outside},fake,NA,-\n',
    )
    manifest = read_manifest(source)
    # Same folder: byte-for-byte the same table (cells kept as text: "1.50", "NA", "-" survive).
    same = manifest.write(tmp_path / "data" / "copy.csv")
    assert same.read_text() == source.read_text().replace(
        str(outside), (tmp_path / "other" / "y.wav").as_posix()
    )
    # A parent folder: paths under it become relative to it, and still resolve to the same files.
    moved = read_manifest(manifest.write(tmp_path / "m2.csv"))
    assert moved.column("path") == ["data/x.wav", "other/y.wav"]
    assert moved.abs_paths() == manifest.abs_paths()
    # A sibling folder: files outside it are written absolute.
    away = read_manifest(manifest.write(tmp_path / "sub" / "m3.csv"))
    assert away.column("path") == [str(tmp_path / "data" / "x.wav"), str(outside)]
    assert away.column("note") == ["a, b", "-"]
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_write_is_atomic_when_the_target_cannot_be_replaced(tmp_path):
    manifest = Manifest.from_records([{"path": "a.wav", "label": "real"}], tmp_path)
    target = tmp_path / "out.csv"
    target.mkdir()  # a folder in the way: os.replace fails after the temp file is written
    with pytest.raises(OSError):
        manifest.write(target)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"], "the temp file must be cleaned up"


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_manifests_get_the_umask_permissions_not_private_temp_ones(tmp_path, umask):
    import os
    import stat

    from unmask.eval.protocols import Split

    previous = os.umask(umask)
    try:
        manifest = Manifest.from_records([{"path": "a.wav", "label": "real"}], tmp_path)
        written = manifest.write(tmp_path / "m.csv")
        split = Split("s", "fixed", test=manifest, train=manifest).write(tmp_path / "split")
    finally:
        os.umask(previous)
    for path in [written, *split.values()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path  # 0644 under the usual umask


def test_from_records_filter_groupby(tmp_path):
    records = [
        {"path": tmp_path / "a.wav", "label": "real", "split": "train", "start": 0.0, "end": 1.5},
        {"path": tmp_path / "b.wav", "label": "fake", "split": "dev", "system": "A01", "start": None},
        {"path": "c.wav", "label": "fake", "split": "dev", "system": "A02", "score": 0.25},
    ]
    manifest = Manifest.from_records(records, tmp_path)
    assert manifest.column("path") == ["a.wav", "b.wav", "c.wav"]
    assert manifest[0].start == 0.0 and manifest[0].end == 1.5 and manifest[1].start is None
    assert manifest[2].meta == {"score": "0.25"}
    assert manifest.targets() == [0, 1, 1]
    dev = manifest.filter(split="dev")
    assert len(dev) == 2 and dev.root == manifest.root
    assert len(manifest.filter(system=["A01", "A02"], label="fake")) == 2
    assert len(manifest.filter(lambda row: row.system == "A02")) == 1
    groups = manifest.groupby("split")
    assert {k: len(v) for k, v in groups.items()} == {"dev": 2, "train": 1}
    with pytest.raises(ManifestError, match="no column 'speaker'"):
        manifest.filter(speaker="x")
    with pytest.raises(ManifestError, match="record 2"):
        Manifest.from_records([{"path": "a", "label": "real"}, {"path": "b", "label": "maybe"}], tmp_path)


def test_normalize_label_accepts_corpus_words_only_for_importers():
    assert [normalize_label(w) for w in ("bonafide", "Bona-Fide", "genuine", "REAL")] == ["real"] * 4
    assert [normalize_label(w) for w in ("spoof", "Synthetic", "fake")] == ["fake"] * 3
    assert normalize_label("unsure") is None


def test_realworld_manifest_reads(realworld_manifest):
    manifest = read_manifest(realworld_manifest)
    assert len(manifest) == 1179
    assert set(manifest.labels) == {"real", "fake"}
    assert "duration_s" in manifest.metadata_columns
    assert all(manifest.exists())
    assert set(manifest.groupby("domain")) == {"speech", "music"}


def test_line_numbers_follow_the_file_across_blank_lines_and_multiline_cells(tmp_path):
    text = 'path,label,note\na.wav,real,"two\nlines"\n\nb.wav,unsure,x\n'
    with pytest.raises(ManifestError) as caught:
        read_manifest(write_csv(tmp_path / "m.csv", text))
    assert caught.value.line == 5 and caught.value.column == "label"
