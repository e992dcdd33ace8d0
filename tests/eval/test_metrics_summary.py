"""summarize / summarize_by: values agree with the single metrics; one-class groups never raise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from unmask.errors import MetricError
from unmask.eval.metrics import (
    POOLED,
    SUMMARY_KEYS,
    average_precision,
    cllr,
    compute_eer,
    expected_calibration_error,
    min_cllr,
    min_dcf,
    probability_to_llr,
    roc_auc,
    summarize,
    summarize_by,
)


def _table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    is_fake = rng.random(n) < 0.5
    logits = rng.normal(size=n) + 2.0 * is_fake - 1.0
    system = np.where(is_fake, rng.choice(["tts_a", "tts_b"], size=n), "bonafide")
    corpus = rng.choice(["c1", "c2"], size=n)
    return pd.DataFrame(
        {
            "fake_probability": 1.0 / (1.0 + np.exp(-logits)),
            "label": np.where(is_fake, "fake", "real"),
            "system": system,
            "corpus": corpus,
        }
    )


def test_summarize_matches_the_individual_metrics():
    df = _table()
    p, labels = df["fake_probability"], df["label"]
    result = summarize(p, labels, threshold=0.5)
    assert tuple(result) == SUMMARY_KEYS
    eer = compute_eer(p, labels)
    assert (result["eer"], result["eer_threshold"]) == (eer.eer, eer.threshold)
    assert result["min_dcf"] == min_dcf(p, labels).dcf
    assert result["auc"] == roc_auc(p, labels)
    assert result["ap"] == average_precision(p, labels)
    assert result["ece"] == expected_calibration_error(p, labels)
    assert result["cllr"] == cllr(probability_to_llr(p), labels)
    assert result["min_cllr"] == min_cllr(p, labels)
    assert result["n_real"] + result["n_fake"] == result["n"] == len(df)
    assert result["scores_are_probabilities"] and result["note"] == ""
    assert 0.5 < result["auc"] <= 1.0 and result["act_dcf"] >= 0.0


def test_summarize_of_logits_skips_probability_only_metrics():
    df = _table()
    logits = np.log(df["fake_probability"] / (1 - df["fake_probability"]))
    result = summarize(logits, df["label"], threshold=0.0)
    assert not result["scores_are_probabilities"]
    for key in ("ece", "brier", "cllr", "act_dcf"):
        assert math.isnan(result[key])
    # Ranking metrics are invariant to the monotone logit map.
    assert result["eer"] == summarize(df["fake_probability"], df["label"])["eer"]
    assert result["min_cllr"] == pytest.approx(min_cllr(df["fake_probability"], df["label"]))


def test_summarize_of_one_class_gives_nan_and_a_note():
    result = summarize([0.2, 0.9, 0.4], ["real"] * 3)
    assert math.isnan(result["eer"]) and math.isnan(result["auc"]) and math.isnan(result["min_cllr"])
    assert (result["n_real"], result["n_fake"]) == (3, 0)
    assert result["fpr"] == pytest.approx(1 / 3)
    assert "only real samples" in result["note"]


def test_summarize_by_has_a_pooled_row_and_one_row_per_group():
    df = _table()
    table = summarize_by(df, "corpus")
    assert list(table["corpus"]) == [POOLED, "c1", "c2"]
    assert list(table.columns) == ["corpus", *SUMMARY_KEYS]
    assert table.loc[0, "n"] == len(df)
    assert table["n"].iloc[1:].sum() == len(df)
    c1 = df[df["corpus"] == "c1"]
    assert table.loc[1, "eer"] == compute_eer(c1["fake_probability"], c1["label"]).eer


def test_summarize_by_one_class_groups_get_nan_and_counts():
    table = summarize_by(_table(), ["system", "corpus"]).set_index(["system", "corpus"])
    bonafide = table.loc[("bonafide", "c1")]
    assert bonafide["n_fake"] == 0 and bonafide["n_real"] > 0
    assert math.isnan(bonafide["eer"]) and math.isnan(bonafide["auc"])
    assert "only real samples" in bonafide["note"]
    tts = table.loc[("tts_a", "c2")]
    assert tts["n_real"] == 0 and not math.isnan(tts["fnr"])
    assert not math.isnan(table.loc[(POOLED, POOLED), "eer"])


def test_summarize_by_keeps_rows_with_a_missing_group_value():
    df = _table().astype({"corpus": object})
    df.loc[:9, "corpus"] = None
    table = summarize_by(df, "corpus")
    assert table["n"].iloc[1:].sum() == len(df)
    assert table["corpus"].isna().sum() == 1


def test_summarize_by_reports_bad_input():
    df = _table()
    with pytest.raises(MetricError, match=r"'codec' not in the table.*available columns: fake_probability"):
        summarize_by(df, "codec")
    df.loc[3, "fake_probability"] = np.nan
    with pytest.raises(MetricError, match=r"NaN or infinite \(first at index 3"):
        summarize_by(df, "corpus")
    with pytest.raises(MetricError, match=r"no scores given"):
        summarize_by(df.iloc[:0], "corpus")
