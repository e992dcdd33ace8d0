"""File helpers shared across the package: atomic writes (a crash never leaves a half-written output
behind), content hashes, and the key that says whether a file changed since it was scanned."""

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


def file_blake2b(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """BLAKE2b (128-bit) hex digest of a file's bytes (duplicate detection, resumable scan keys)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def file_state_key(path: str | Path, use_hash: bool = False) -> str:
    """What identifies the scanned state of ``path``: ``size:<bytes>,mtime_ns:<ns>``, or with ``use_hash``
    ``blake2b:<hex>`` of its bytes; ``-`` for what cannot be read (a missing file, a bad pattern).

    A resumed scan (local ``--resume`` or ``--engine ray``) skips a file whose stored key still matches."""
    try:
        status = os.stat(path)
        if not os.path.isfile(path):
            return "-"
        if use_hash:
            return f"blake2b:{file_blake2b(path)}"
    except OSError:
        return "-"
    return f"size:{status.st_size},mtime_ns:{status.st_mtime_ns}"


def path_key(path: str | Path) -> str:
    """Scan rows are matched on the absolute path, so a resumed run from another folder finds them."""
    return os.path.abspath(path)


def path_slug(text: str, keep: str = "-_.") -> str:
    """``text`` as one folder or file name: every character but letters, digits and ``keep`` becomes "_"
    (one for one, so distinct names of equal length stay distinct; run folders keep their names)."""
    return "".join(c if c.isalnum() or c in keep else "_" for c in text)
