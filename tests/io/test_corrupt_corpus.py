"""Every damaged file ends as a score or an error row, in bounded time: nothing crashes, nothing hangs.

The corpus (``corrupt_corpus.py``) is made here from clean clips of every container/codec we decode; each
file is scanned in a watched worker process, so a crash or a hang is caught and counted rather than taking
the test run down. ``scripts/corrupt_corpus_report.py`` prints the same table as Markdown.
"""

from __future__ import annotations

import time

from corrupt_corpus import KINDS, build_corpus, markdown_table, run_corpus, tally


def test_damaged_media_never_crashes_or_hangs(tmp_path):
    started = time.monotonic()
    cases, skipped = build_corpus(tmp_path / "corpus")
    outcomes = run_corpus(cases, workers=2)
    print(f"\n{markdown_table(outcomes)}\n({len(cases)} files in {time.monotonic() - started:.1f} s; "
          f"formats not encodable here: {skipped or 'none'})")
    assert len(outcomes) == len(cases)
    table = tally(outcomes)
    assert set(table) == set(KINDS), f"every kind of damage is tried: {sorted(set(KINDS) - set(table))}"
    bad = [o for o in outcomes if o.outcome in ("crash", "hang")]
    assert not bad, "\n".join(f"{o.case.kind} {o.case.path.name}: {o.outcome} {o.detail}" for o in bad)
    controls = [o for o in outcomes if o.case.kind == KINDS[0]]
    assert controls and all(o.outcome == "score" for o in controls), [o.detail for o in controls]
    for kind in ("truncated-header", "absurd-header", "zero-length-stream", "video-without-audio"):
        assert table[kind]["error"] > 0, kind  # these must mostly be refused, not scored
    assert all(o.outcome != "error" or o.detail for o in outcomes), "an error row says why"
    assert max(o.seconds for o in outcomes) < 20
