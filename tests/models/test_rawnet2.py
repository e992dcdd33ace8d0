import json
from pathlib import Path

import numpy as np
import pytest
import torch

from audio_fixtures import buzzy, voiced, voiced_vs_buzzy_bank
from unmask.eval.metrics import compute_eer
from unmask.models.aasist import mel_band_pass_filters
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.heads import LinearHead, OCSoftmaxHead, supports_embedding
from unmask.models.registry import available_models, build_model
from unmask.train.trainer import TrainConfig, Trainer, file_logits

SMALL = {
    "window_s": 1.0,
    "sinc_filters": 8,
    "sinc_kernel": 64,
    "channels": [8, 16],
    "blocks": [2, 3],
    "gru_hidden": 16,
    "gru_layers": 1,
    "embedding_dim": 16,
}
# The first bundled default model (an LCNN saved before forward was split into embed + head), kept as a
# fixture so old LCNN checkpoints stay loadable after the bundled default moved to another detector.
OLD_LCNN = Path(__file__).parent / "data" / "lcnn-pre-embed-split.pt"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread avoids spin-waiting, ~5x faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(n: int = 4, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([(voiced if i % 2 == 0 else buzzy)(seconds, rng) for i in range(n)]))




def test_default_config_is_the_paper_topology():
    model = build_model("rawnet2")
    assert "rawnet2" in available_models()
    assert model.sinc.band_pass.shape == (20, 1, 1025)  # 20 fixed mel-spaced sinc filters, 1024(+1) taps
    assert len(model.blocks) == 6 and model.blocks[-1].conv2.out_channels == 128
    assert (model.gru.hidden_size, model.gru.num_layers, model.embedding_dim) == (1024, 3, 1024)
    # the GRU (3 x 1024) holds most of the weights: 16-18 M parameters in all
    assert 16e6 < model.num_parameters() < 18e6
    np.testing.assert_array_equal(
        model.sinc.band_pass[:, 0].numpy(), mel_band_pass_filters(20, 1025, 16000).numpy()
    )
    with pytest.raises(ValueError, match="one entry per group"):
        build_model("rawnet2", {"channels": [8, 16], "blocks": [1]})


@pytest.mark.parametrize("seconds", [0.6, 1.0, 2.3])
def test_one_logit_per_item_for_any_length_and_gradients_flow(seconds):
    model = build_model("rawnet2", SMALL)
    x = _batch(seconds=seconds).requires_grad_()
    logits = model(x)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert x.grad.abs().sum() > 0


def test_blind_to_recording_level_and_forward_is_head_of_embed():
    model = build_model("rawnet2", SMALL).eval()
    x = _batch()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), model(0.1 * x).numpy(), atol=1e-4)
        embedding = model.embed(x)
        assert embedding.shape == (4, SMALL["embedding_dim"])
        assert torch.equal(model(x), model.head(embedding))
    assert supports_embedding(model) and isinstance(model.head, LinearHead)
    assert isinstance(build_model("rawnet2", {**SMALL, "head": "ocsoftmax"}).head, OCSoftmaxHead)


def test_trains_through_trainer_scores_clips_and_round_trips(tmp_path):
    train, held_out = voiced_vs_buzzy_bank(6, seed=1), voiced_vs_buzzy_bank(4, seed=2)
    config = TrainConfig(
        threads=1, model="rawnet2", model_config=SMALL, epochs=2, steps_per_epoch=8, batch_size=8, lr=3e-3
    )
    ckpt = Trainer(config, tmp_path, log=lambda _: None).fit(train, held_out)
    history = json.loads((tmp_path / "history.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [0, 1] and history[1]["train_loss"] < history[0]["train_loss"]
    eer = compute_eer(file_logits(ckpt.model, held_out), held_out.targets).eer
    assert eer < 0.25, f"held-out EER {eer} on a task a small RawNet2 separates in 16 steps"

    save_checkpoint(tmp_path / "m.pt", Checkpoint(ckpt.model))
    reloaded = load_checkpoint(tmp_path / "m.pt")
    x = _batch(seed=5)
    with torch.no_grad():
        assert torch.equal(reloaded.model(x), ckpt.model(x))


def test_lcnn_embed_split_keeps_old_checkpoints_and_outputs():
    """LCNN's forward was split into embed + head: an LCNN checkpoint saved before the split (the first
    bundled default) must load strictly and give exactly what the original single forward computed."""
    model = load_checkpoint(OLD_LCNN).model
    assert model.config["head"] == "linear" and supports_embedding(model)
    x = _batch(seconds=2.0)
    with torch.no_grad():
        # The original forward, written out: body, pool over frequency, mean+std over time, dropout+linear.
        h = model.body(model.features(x).unsqueeze(1)).mean(dim=2)
        pooled = torch.cat([h.mean(dim=-1), h.std(dim=-1, correction=0)], dim=1)
        original = model.head[1](model.head[0](pooled)).squeeze(-1)
        assert torch.equal(model(x), original)
    keys = set(torch.load(OLD_LCNN, weights_only=True)["state_dict"])
    assert keys == set(model.state_dict())
