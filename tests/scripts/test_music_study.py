"""scripts/music_study.py's nested check, on hand-made cached features: the choice among candidates is
made on the other folds, and a candidate that would need other features is refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unmask.errors import UnmaskError
from unmask.models.registry import build_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("music_study", REPO / "scripts" / "music_study.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pool(seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Three fake families and three real sources of 12 clips each (one song per clip). Only the first
    20 ripple-lag columns tell fake from real; the stability group is noise."""
    rng = np.random.default_rng(seed)
    rows = [{"label": label, "family": name if label == "fake" else "human", "source": name,
             "song": f"{name}/{k}"} for label, names in (("fake", "abc"), ("real", "xyz"))
            for name in names for k in range(12)]
    frame = pd.DataFrame(rows)
    frame["fold"] = frame.apply(lambda r: f"family:{r.family}" if r.label == "fake" else f"real:{r.source}",
                                axis=1)
    feats = rng.standard_normal((len(frame), 2, build_model("artifact-spectrum", {}).n_features))
    feats[(frame.label == "fake").to_numpy(), :, :20] += 1.5
    return frame, {"spectrum": feats}


def test_the_nested_check_chooses_on_the_other_folds(study):
    frame, feats = _pool()
    model = build_model("artifact-spectrum", {})
    candidates = [{"groups": ["stability"], "experts": None},
                  {"groups": ["lags"], "experts": None, "C": 0.01}]
    checked = study.nested_check("artifact-spectrum", {}, model, feats, frame, candidates, seed=0, jobs=1)
    assert set(checked) == {"candidates", *study.CRITERIA}
    for criterion in study.CRITERIA:
        result = checked[criterion]
        assert set(result["candidate_chosen_per_fold"]) == set(frame.fold)
        assert set(result["candidate_chosen_per_fold"].values()) == {1}  # the lags carry the signal
        assert result["pooled_eer"] < 0.1
        assert set(result["eer_per_family"]) == {"a", "b", "c"}
    only_noise = study.nested_check("artifact-spectrum", {}, model, feats, frame, candidates[:1], seed=0,
                                    jobs=1)
    assert only_noise["pooled"]["pooled_eer"] > 0.25  # three noise features: near chance


def test_the_worst_family_criterion_picks_the_candidate_that_carries_to_a_new_family(study):
    """Each fake family's comb sits at its own ripple lags (a new decoder, a new place), and every fake is
    a little more stable than the reals. Held out, a family is missed by the lags alone; an expert on the
    stability group carries to it, and the worst family's EER picks that candidate on every fold."""
    frame, feats = _pool()
    spectrum = feats["spectrum"]
    spectrum[:, :, :20] = np.random.default_rng(1).standard_normal(spectrum[:, :, :20].shape)
    for k, family in enumerate("abc"):
        spectrum[(frame.family == family).to_numpy(), :, 20 * k : 20 * k + 20] += 1.5
    model = build_model("artifact-spectrum", {})
    spectrum[np.ix_((frame.label == "fake").to_numpy(), [0, 1], model.columns_of(["stability"]))] += 1.0
    candidates = [{"groups": ["lags"], "experts": None},
                  {"groups": ["lags", "stability"], "experts": [["lags", "stability"], ["stability"]]}]
    checked = study.nested_check("artifact-spectrum", {}, model, feats, frame, candidates, seed=0, jobs=1)
    worst = checked["worst-family"]
    assert set(worst["candidate_chosen_per_fold"].values()) == {1}
    alone = study.nested_check("artifact-spectrum", {}, model, feats, frame, candidates[:1], seed=0, jobs=1)
    for family in "abc":
        assert alone["worst-family"]["eer_per_family"][family] > 0.3  # the lags alone: near chance
        assert worst["eer_per_family"][family] < alone["worst-family"]["eer_per_family"][family] - 0.1


def test_a_candidate_needing_other_features_is_refused(study):
    frame, feats = _pool()
    model = build_model("artifact-spectrum", {})
    with pytest.raises(UnmaskError, match="only C, groups and experts may change"):
        study.nested_check("artifact-spectrum", {}, model, feats, frame, [{"n_fft": 8192}], seed=0, jobs=1)
