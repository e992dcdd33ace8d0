"""scripts/compare_studies.py: the paired bootstrap over sources, on hand-made out-of-fold scores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def _study(folder: Path, logits: list[float]) -> Path:
    """Four sources of one real and one fake clip each; ``logits`` in that order (real, fake, ...)."""
    folder.mkdir()
    rows = [{"path": f"c{i}.flac", "label": "fake" if i % 2 else "real", "source": f"s{i // 2}", "logit": x}
            for i, x in enumerate(logits)]
    pd.DataFrame(rows).to_csv(folder / "out_of_fold.csv", index=False)
    return folder


def _run(*args: object) -> str:
    command = [sys.executable, str(REPO / "scripts" / "compare_studies.py"), *map(str, args)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def test_a_perfect_study_against_a_chance_one(tmp_path):
    # A separates every source's pair (EER 0). B ranks every fake below every real: pooled EER 100%.
    a = _study(tmp_path / "a", [0, 1, 0, 1, 0, 1, 0, 1])
    b = _study(tmp_path / "b", [1, 0, 1, 0, 1, 0, 1, 0])
    out = _run(a, b, "--draws", 50)
    assert "A " in out and "pooled EER 0.0%" in out and "pooled EER 100.0%" in out
    assert "B - A: +100.0 points, 95% interval over sources [+100.0, +100.0] (50 draws)" in out


def test_the_same_study_twice_differs_by_nothing(tmp_path):
    logits = [0.1, 0.9, 0.6, 0.4, 0.2, 0.8, 0.3, 0.35]
    a, b = _study(tmp_path / "a", logits), _study(tmp_path / "b", logits)
    assert "B - A: +0.0 points, 95% interval over sources [+0.0, +0.0]" in _run(a, b, "--draws", 30)


def test_studies_of_different_clips_are_refused(tmp_path):
    a = _study(tmp_path / "a", [0, 1, 0, 1])
    b = _study(tmp_path / "b", [0, 1, 0, 1, 0, 1])
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_studies.py"), str(a), str(b)],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "did not score the same clips" in result.stderr
