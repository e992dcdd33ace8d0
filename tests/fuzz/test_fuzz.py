"""The fuzz harnesses (``fuzz/``): every input a fuzzer ever crashed on replays cleanly, and a short atheris
run of each harness finds nothing (``make fuzz`` runs them for longer)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
TARGETS = ("decode", "manifest")
REGRESSIONS = sorted((FUZZ / "regressions").glob("*/*"))


def _harness(target: str):
    sys.path.insert(0, str(FUZZ))
    try:
        return importlib.import_module(f"fuzz_{target}")
    finally:
        sys.path.remove(str(FUZZ))


@pytest.mark.parametrize("case", REGRESSIONS, ids=[f"{p.parent.name}/{p.name}" for p in REGRESSIONS])
def test_inputs_the_fuzzers_crashed_on_are_handled(case):
    _harness(case.parent.name).one_input(case.read_bytes())  # returns, or raises what the crash was


def test_there_are_regressions_for_each_target():
    assert {p.parent.name for p in REGRESSIONS} <= set(TARGETS)
    assert REGRESSIONS, "fuzz/regressions holds every crash input found so far"


@pytest.mark.parametrize("target", TARGETS)
def test_a_short_coverage_guided_run_finds_nothing(target, tmp_path):
    pytest.importorskip("atheris", reason="atheris (dev extra) is not installed")
    seeds = subprocess.run([sys.executable, str(FUZZ / "make_seeds.py"), str(tmp_path / "seeds")],
                           capture_output=True, text=True, timeout=120, check=False)
    assert seeds.returncode == 0, seeds.stderr
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, str(FUZZ / f"fuzz_{target}.py"), str(work), str(tmp_path / "seeds" / target),
               "-runs=300", "-timeout=20", "-rss_limit_mb=3000", "-max_len=24000",
               f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    crashes = [p for kind in ("crash", "timeout", "oom", "leak") for p in sorted(tmp_path.glob(f"{kind}-*"))]
    assert run.returncode == 0 and not crashes, run.stderr[-4000:]
    # libFuzzer checks -runs between batches of mutations, so it may stop a run or two past the limit
    done = re.search(r"Done (\d+) runs", run.stderr)
    assert done and int(done.group(1)) >= 300, run.stderr[-4000:]
