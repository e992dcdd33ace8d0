"""Print the corrupted-media corpus table as Markdown: each bad-input kind, how many files were tried, and how
they ended (score / error row / crash / hang).

    .venv/bin/python scripts/corrupt_corpus_report.py [--keep DIR] [--workers N] [--timeout S]

It builds the same corpus as ``tests/io/test_corrupt_corpus.py`` (clean clips of every container/codec we
decode, damaged in every way ``tests/io/corrupt_corpus.py`` knows) in a temporary folder, scans each file in
a watched worker process, and prints the table, then any crash or hang with its detail. Exit 1 if any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "io")]

from corrupt_corpus import TIMEOUT_S, build_corpus, markdown_table, run_corpus  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build the corpus in DIR and keep it (default: a temp dir)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per file before 'hang'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch) / "corpus"
        started = time.monotonic()
        cases, skipped = build_corpus(folder)
        outcomes = run_corpus(cases, workers=args.workers, timeout_s=args.timeout)
        elapsed = time.monotonic() - started
    print(markdown_table(outcomes))
    print(f"\n{len(cases)} files, {elapsed:.0f} s, {args.timeout:g} s bound per file, {args.workers} workers"
          + (f"; not encodable here: {'; '.join(skipped)}" if skipped else ""))
    bad = [o for o in outcomes if o.outcome in ("crash", "hang")]
    for o in bad:
        print(f"- {o.outcome}: {o.case.kind} {o.case.path.name}: {o.detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
