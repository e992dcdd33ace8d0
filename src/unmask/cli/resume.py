"""Resumable scan output: a JSON Lines file that a scan appends to, one flushed line per result.

``unmask scan DIR --out results.jsonl --resume`` reads what the file already holds and scans only the rest.
A file counts as done when the output holds a row for the same path whose ``file_key`` still matches it:
size and modification time by default, the file's content hash with ``--hash`` (survives a copy that resets
modification times, catches an edit that keeps them). Each result is written and flushed the moment it is
known, so a scan killed at any point loses only the files in flight; a line the kill cut short is dropped on
the next run. Rows whose file has changed since (or a torn last line) are removed before appending, in one
atomic rewrite, so the output keeps exactly one row per path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from unmask._fs import atomic_path, file_state_key, path_key
from unmask.detect.result import ScanResult
from unmask.errors import UnmaskError

KEY_FIELD = "file_key"


def file_key(path: str, use_hash: bool = False) -> str:
    """See :func:`unmask._fs.file_state_key`."""
    return file_state_key(path, use_hash)


@dataclass
class ResumeState:
    """What an existing output holds: the rows still valid, by absolute path, and what had to be dropped."""

    rows: dict[str, tuple[str, ScanResult]] = field(default_factory=dict)  # path -> (file_key, result)
    lines: dict[str, str] = field(default_factory=dict)  # path -> the row's line, as written
    torn: int = 0  # a last line a kill cut short (dropped)
    needs_rewrite: bool = False  # a torn or unterminated last line, or a path held twice


def read_output(out: Path) -> ResumeState:
    """Parse an existing resumable output; a missing or empty file is an empty state.

    Raises UnmaskError when a line other than the last is not one of our rows (this is not a scan output,
    or a different format): appending to it would corrupt it.
    """
    state = ResumeState()
    if not out.exists():
        return state
    with out.open(encoding="utf-8", newline="") as handle:
        text = handle.read()
    lines = text.split("\n")
    state.needs_rewrite = bool(lines[-1])  # no newline at the end: appending would join two rows
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            result = ScanResult.from_dict({k: v for k, v in data.items() if k != KEY_FIELD})
            key = str(data[KEY_FIELD])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            if number == len(lines):  # the last line, unterminated: cut short by an interrupted write
                state.torn += 1
                continue
            raise UnmaskError(
                f"line {number} is not a resumable scan row ({type(exc).__name__}: {exc})", path=out,
                hint="resume only into a file an earlier `unmask scan --resume` wrote, or pick a new --out",
            ) from exc
        where = path_key(result.path)
        state.needs_rewrite |= where in state.rows
        state.rows[where] = (key, result)  # a later row for a path wins
        state.lines[where] = line
    return state


class ResumableOutput:
    """Appends results as JSON Lines rows carrying their ``file_key``; flushes each one."""

    def __init__(self, out: Path, use_hash: bool = False) -> None:
        self.out = out
        self.use_hash = use_hash
        self.state = read_output(out)
        self.keys: dict[str, str] = {}
        self._stream: TextIO | None = None

    def plan(self, paths: Iterable[str]) -> tuple[list[str], list[ScanResult], int]:
        """Split ``paths`` into those to scan and the results already held for the rest; the third value is
        how many held rows were dropped because their file changed (they are scanned again)."""
        todo: list[str] = []
        done: list[ScanResult] = []
        stale = 0
        for path in paths:
            where = path_key(path)
            key = self.keys[where] = file_key(path, self.use_hash)
            held = self.state.rows.get(where)
            if held is not None and held[0] == key:
                done.append(held[1])
                continue
            if held is not None:
                stale += 1
                del self.state.rows[where]
                del self.state.lines[where]
            todo.append(path)
        return todo, done, stale

    def open(self, rewrite: bool) -> None:
        """Start appending; with ``rewrite`` first replace the file, atomically, by the rows still valid."""
        if rewrite:
            with atomic_path(self.out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
                handle.writelines(line + "\n" for line in self.state.lines.values())
        self._stream = open(self.out, "a", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()

    def add(self, result: ScanResult) -> None:
        assert self._stream is not None, "open() first"
        key = self.keys.get(path_key(result.path)) or file_key(result.path, self.use_hash)
        row = result.to_dict() | {KEY_FIELD: key}
        self._stream.write(json.dumps(row, default=str, allow_nan=False) + "\n")
        self._stream.flush()  # in the OS's hands before the next file: a kill loses only those in flight

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
