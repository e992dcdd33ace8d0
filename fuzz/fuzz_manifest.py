"""Fuzz the manifest reader: arbitrary bytes as a manifest CSV through read_manifest, then a round trip.

Contract under test (``unmask.data.manifest``): every input either reads as a Manifest or raises
``ManifestError`` naming the file; a manifest that reads writes back and reads again to the same rows:
the same files (paths are rebased and normalised, ``a//b`` and ``a/./b`` name ``a/b``), the same labels
and every other cell unchanged. Any other exception, or a round trip that changes a row, is a crash.

    .venv/bin/python fuzz/fuzz_manifest.py [CORPUS_DIR ...] -max_total_time=60 -timeout=10
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SCRATCH, run, scratch_file  # noqa: E402


def one_input(data: bytes) -> None:
    from unmask.data.manifest import read_manifest
    from unmask.errors import ManifestError

    path = scratch_file("manifest.csv", data)
    try:
        manifest = read_manifest(path)
    except ManifestError:
        return
    again = read_manifest(manifest.write(SCRATCH / "again.csv"))
    assert again.abs_paths() == manifest.abs_paths(), "the round trip changed which files the rows name"
    before = manifest.to_frame().drop(columns="path").fillna("").astype(str)
    after = again.to_frame().drop(columns="path").fillna("").astype(str)
    assert list(before.columns) == list(after.columns), (list(before.columns), list(after.columns))
    assert before.values.tolist() == after.values.tolist(), "the round trip changed a cell"


if __name__ == "__main__":
    run(one_input, ("unmask.data.manifest",))
