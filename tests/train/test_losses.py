import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from audio_fixtures import voiced_vs_buzzy_bank
from unmask.errors import UnmaskError
from unmask.models.checkpoint import load_checkpoint
from unmask.models.heads import OCSoftmaxHead
from unmask.models.registry import build_model
from unmask.train.losses import OCSoftmaxLoss, build_objective, resolve_class_weights, weighted_bce
from unmask.train.trainer import TrainConfig, Trainer, file_logits

TINY_LCNN = {"channels": [4, 6], "window_s": 1.0}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread avoids spin-waiting, ~5x faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))




def test_weighted_bce_matches_a_hand_worked_value_and_two_way_cross_entropy():
    logits, targets = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([0.0, 1.0, 1.0])
    # per item: real at 0 -> log 2; fake at 2 -> log(1 + e^-2); fake at -1 -> log(1 + e^1)
    per_item = [math.log(2.0), _softplus(-2.0), _softplus(1.0)]
    expected = (0.9 * per_item[0] + 0.1 * per_item[1] + 0.1 * per_item[2]) / (0.9 + 0.1 + 0.1)
    assert weighted_bce(logits, targets, (0.9, 0.1)).item() == pytest.approx(expected, rel=1e-6)
    # The ASVspoof baselines' 2-way CE with class weights, on logits [0, z]: the same number.
    two_way = torch.stack([torch.zeros(3), logits], dim=1)
    ce = nn.CrossEntropyLoss(weight=torch.tensor([0.9, 0.1]))(two_way, targets.long())
    assert weighted_bce(logits, targets, (0.9, 0.1)).item() == pytest.approx(ce.item(), rel=1e-6)


def test_class_weights_presets_balanced_and_errors():
    assert resolve_class_weights("asvspoof") == (0.9, 0.1)
    assert resolve_class_weights(None) == (1.0, 1.0)
    real, fake = resolve_class_weights("balanced", np.array([0, 1, 1, 1]))  # n / (2 * count)
    assert (real, fake) == pytest.approx((2.0, 4 / 6))
    assert resolve_class_weights([1, 3]) == (1.0, 3.0)
    with pytest.raises(UnmaskError, match="unknown class_weights"):
        resolve_class_weights("heavy")
    with pytest.raises(UnmaskError, match="two positive numbers"):
        resolve_class_weights([1.0, 0.0])


def test_ocsoftmax_loss_matches_a_hand_worked_2d_toy():
    head = OCSoftmaxHead(2)
    with torch.no_grad():
        head.centre.copy_(torch.tensor([2.0, 0.0]))  # any length: only its direction counts
    embeddings = torch.tensor([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    targets = torch.tensor([0.0, 0.0, 1.0, 1.0])  # real, real, fake, fake
    with torch.no_grad():
        scores = head.score(embeddings)
        logits = head(embeddings)
    np.testing.assert_allclose(scores.numpy(), [1.0, 0.0, math.sqrt(0.5), -1.0], atol=1e-6)
    # real: softplus(20 (0.9 - s)); fake: softplus(20 (s - 0.2))
    expected = np.mean(
        [
            _softplus(20 * (0.9 - 1.0)),
            _softplus(20 * 0.9),
            _softplus(20 * (math.sqrt(0.5) - 0.2)),
            _softplus(-24),
        ]
    )
    assert OCSoftmaxLoss()(scores, targets).item() == pytest.approx(expected, rel=1e-6)
    # The head's logit: alpha * (midpoint of margins - s); positive = fake.
    np.testing.assert_allclose(logits.numpy(), 20 * (0.55 - scores.numpy()), rtol=1e-6)
    assert logits[0] < 0 < logits[3]


def test_ocsoftmax_trains_lcnn_through_trainer_and_keeps_the_logit_convention(tmp_path):
    train = voiced_vs_buzzy_bank(8, seed=1)
    config = TrainConfig(
        model_config=TINY_LCNN,
        epochs=2,
        steps_per_epoch=20,
        batch_size=8,
        lr=1e-2,
        loss="ocsoftmax",
        loss_kwargs={"m_real": 0.8},
        threads=1,
    )
    Trainer(config, tmp_path, log=lambda _: None).fit(train)
    history = json.loads((tmp_path / "history.json").read_text())
    losses = [h["train_loss"] for h in history["history"]]
    assert losses[1] < 0.5 * losses[0]
    assert history["config"]["loss"] == "ocsoftmax"

    reloaded = load_checkpoint(tmp_path / "best.pt")
    head = reloaded.model.head
    assert reloaded.model.config["head"] == "ocsoftmax" and isinstance(head, OCSoftmaxHead)
    assert (head.m_real, head.m_fake) == pytest.approx((0.8, 0.2))  # the trained margins travel with it
    logits = file_logits(reloaded.model, train)
    assert np.isfinite(logits).all()
    assert (logits[train.targets == 0] < 0).mean() >= 0.8 and (logits[train.targets == 1] > 0).mean() >= 0.8


def test_weighted_bce_trains_through_trainer(tmp_path):
    config = TrainConfig(
        model_config=TINY_LCNN,
        epochs=1,
        steps_per_epoch=6,
        batch_size=8,
        loss="weighted-bce",
        class_weights="balanced",
        threads=1,
    )
    Trainer(config, tmp_path, log=lambda _: None).fit(voiced_vs_buzzy_bank(4, seed=3))
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["config"]["class_weights"] == "balanced" and np.isfinite(
        history["history"][0]["train_loss"]
    )


def test_loss_settings_that_do_not_fit_are_clear_errors(tmp_path):
    bank = voiced_vs_buzzy_bank(2, seed=0)

    def fit(**settings):
        Trainer(TrainConfig(threads=1, epochs=1, steps_per_epoch=1, batch_size=4, **settings), tmp_path).fit(
            bank
        )

    with pytest.raises(UnmaskError, match="needs a model with an embedding"):
        fit(model="aasist-l", loss="ocsoftmax")
    with pytest.raises(UnmaskError, match="unknown loss"):
        fit(loss="focal")
    with pytest.raises(UnmaskError, match="only apply to loss 'weighted-bce'"):
        fit(class_weights="asvspoof")
    with pytest.raises(UnmaskError, match="needs class_weights"):
        fit(loss="weighted-bce")
    with pytest.raises(UnmaskError, match="takes no settings"):
        fit(loss="ocsoftmax", model_config=TINY_LCNN, loss_kwargs={"margin": 1})
    with pytest.raises(UnmaskError, match="OC-softmax head"):
        build_objective("ocsoftmax", build_model("lcnn", TINY_LCNN))  # built with the linear head
