"""Atomic file writes shared by every writer: a crash never leaves a half-written output behind."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _file_mode(path: Path) -> int:
    """The mode a plain open() would give: the existing file's, else 0666 minus the umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)  # reading the umask means setting it; restore it at once
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    The result gets the mode a plain open() would give (the replaced file's, else 0666 minus umask),
    not mkstemp's private 0600, so outputs are readable like any other file the user writes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (content keys for caches and fingerprints)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def path_slug(text: str, keep: str = "-_.") -> str:
    """``text`` as one folder or file name: every character but letters, digits and ``keep`` becomes "_"
    (one for one, so distinct names of equal length stay distinct; run folders keep their names)."""
    return "".join(c if c.isalnum() or c in keep else "_" for c in text)
