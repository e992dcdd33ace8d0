"""Shared plumbing for the fuzz harnesses: one scratch folder per process, atheris set-up, the run loop.

Each harness defines ``one_input(data: bytes) -> None``, which must return (the input was handled: decoded,
or refused with the library's own error type) or raise, which atheris reports as a crash and saves the input
as ``crash-<sha1>``. The same function replays saved inputs in ``tests/fuzz/test_fuzz.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SCRATCH = Path(tempfile.mkdtemp(prefix="unmask-fuzz-"))


def scratch_file(name: str, data: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


def run(one_input: Callable[[bytes], None], instrumented: tuple[str, ...]) -> None:
    """Start atheris on ``one_input`` with libFuzzer's command line (corpus dirs, -runs=N, -max_total_time=S,
    ...), instrumenting the named packages for coverage."""
    import atheris

    with atheris.instrument_imports(include=list(instrumented)):
        for module in instrumented:
            __import__(module)
    atheris.Setup(sys.argv, lambda data: one_input(data))
    atheris.Fuzz()


def quiet_native_logs() -> None:
    """FFmpeg logs every damaged packet to stderr; millions of lines would drown the fuzzer's own report."""
    import av.logging

    av.logging.set_level(av.logging.PANIC)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
