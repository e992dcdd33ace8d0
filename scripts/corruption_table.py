"""Write docs/corruptions.md, the table of every corruption, from the registry (so it cannot go stale).

    python scripts/corruption_table.py            # writes docs/corruptions.md
    python scripts/corruption_table.py --stdout   # prints it instead

tests/eval/test_corruptions.py checks the committed file equals this output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from unmask.eval.corruptions import CORRUPTIONS
from unmask.eval.corruptions.table import markdown_table

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "corruptions.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write (default: %(default)s)")
    parser.add_argument("--stdout", action="store_true", help="print the Markdown instead of writing it")
    args = parser.parse_args()
    text = markdown_table(CORRUPTIONS)
    if args.stdout:
        print(text, end="")
        return
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(CORRUPTIONS)} corruptions)")


if __name__ == "__main__":
    main()
