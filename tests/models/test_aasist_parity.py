"""The authors' released AASIST / AASIST-L weights, imported, reproduce the official implementation's logits.

Needs ``shared/peers/aasist`` (the released .pth/.conf and ``reference_logits.csv``, computed with the
official code) and ``shared/data/realworld-dev`` beside the checkout, or under ``$UNMASK_SHARED``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from unmask.io import load_audio
from unmask.models.importers import import_official_aasist

SHARED = Path(os.environ.get("UNMASK_SHARED") or Path(__file__).resolve().parents[3] / "shared")
RELEASE = SHARED / "peers" / "aasist"
CLIPS = SHARED / "data" / "realworld-dev"
OFFICIAL_INPUT = 64600  # samples: the official evaluation takes the first 64,600, tiling shorter clips

pytestmark = [
    pytest.mark.shared,
    pytest.mark.skipif(
        not (RELEASE / "reference_logits.csv").is_file() or not CLIPS.is_dir(),
        reason=f"official AASIST release or realworld-dev clips not found under {SHARED} (set UNMASK_SHARED)",
    ),
]


def official_input(path: Path) -> np.ndarray:
    wave = load_audio(path, 16000)
    reps = int(np.ceil(OFFICIAL_INPUT / len(wave)))
    return np.tile(wave, reps)[:OFFICIAL_INPUT]


@pytest.mark.parametrize("variant", ["AASIST", "AASIST-L"])
def test_imported_release_matches_the_official_logits(variant):
    with (RELEASE / "reference_logits.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["model"] == variant]
    assert len(rows) == 8
    ckpt = import_official_aasist(RELEASE / f"{variant}.pth", RELEASE / f"{variant}.conf")
    assert ckpt.model.name == variant.lower()
    batch = torch.from_numpy(np.stack([official_input(CLIPS / row["path"]) for row in rows]))
    with torch.no_grad():  # two clips at a time: a batch of 8 full windows needs ~2.5 GB of activations
        logits = torch.cat([ckpt.model.official_logits(pair) for pair in batch.split(2)]).numpy()
    scores = logits[:, 0] - logits[:, 1]
    reference = np.array([[float(row["logit_spoof"]), float(row["logit_bonafide"])] for row in rows])
    # The CSV holds 6 decimals; float32 inference on another machine agrees to ~1e-6.
    np.testing.assert_allclose(logits, reference, rtol=0, atol=1e-4)
    np.testing.assert_allclose(scores, reference[:, 0] - reference[:, 1], rtol=0, atol=2e-4)
    print(f"{variant}: max |logit - official| = {np.abs(logits - reference).max():.2e}")
