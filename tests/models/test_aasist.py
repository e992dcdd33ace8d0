"""AASIST / AASIST-L: architecture, official-format import, Detector scanning and the import CLI.

Weights here are random; the parity with the authors' released weights is in test_aasist_parity.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from scipy.special import expit
from typer.testing import CliRunner

from audio_fixtures import voiced
from unmask.cli.import_model import import_model
from unmask.detect.pipeline import Detector
from unmask.errors import UnmaskError
from unmask.io import save_audio
from unmask.models.aasist import AASIST, AASISTL
from unmask.models.checkpoint import load_checkpoint, save_checkpoint
from unmask.models.importers import import_official_aasist
from unmask.models.registry import available_models, build_model

# The model_config objects of the authors' AASIST.conf and AASIST-L.conf (clovaai/aasist, config/).
OFFICIAL_AASIST = {
    "architecture": "AASIST",
    "nb_samp": 64600,
    "first_conv": 128,
    "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]],
    "gat_dims": [64, 32],
    "pool_ratios": [0.5, 0.7, 0.5, 0.5],
    "temperatures": [2.0, 2.0, 100.0, 100.0],
}
OFFICIAL_AASIST_L = {
    **OFFICIAL_AASIST,
    "filts": [70, [1, 32], [32, 32], [32, 24], [24, 24]],
    "gat_dims": [24, 32],
    "pool_ratios": [0.4, 0.5, 0.7, 0.5],
}
# Same networks on 1 s inputs, to keep CPU tests fast (the architecture takes any length).
SHORT = 16000
SHORT_L = {**OFFICIAL_AASIST_L, "nb_samp": SHORT}
SHORT_FULL = {**OFFICIAL_AASIST, "nb_samp": SHORT}
# Names and shapes read from the released AASIST-L.pth (229 entries in all).
OFFICIAL_AASIST_L_KEYS = {
    "pos_S": (1, 23, 24),
    "master1": (1, 1, 24),
    "first_bn.running_var": (1,),
    "encoder.0.0.conv_downsample.weight": (32, 1, 1, 3),
    "encoder.1.0.bn1.weight": (32,),
    "encoder.2.0.conv_downsample.weight": (24, 32, 1, 3),
    "encoder.5.0.conv2.weight": (24, 24, 2, 3),
    "GAT_layer_S.att_weight": (24, 1),
    "GAT_layer_T.bn.num_batches_tracked": (),
    "HtrgGAT_layer_ST11.att_projM.weight": (32, 24),
    "HtrgGAT_layer_ST22.att_weightM": (32, 1),
    "HtrgGAT_layer_ST21.proj_type2.bias": (24,),
    "pool_hT2.proj.weight": (1, 32),
    "out_layer.weight": (2, 160),
}


def _unmask_config(model_config: dict) -> dict:
    arch = {k: v for k, v in model_config.items() if k != "architecture"}
    return {**arch, "sample_rate": 16000, "window_s": model_config["nb_samp"] / 16000}


def _randomise_batch_norm_statistics(model: torch.nn.Module, seed: int = 0) -> None:
    """Fresh batch norms are identities in eval mode; give them statistics so the import must carry them."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0, 0.1, generator=gen)
            module.running_var.uniform_(0.5, 2.0, generator=gen)
            module.num_batches_tracked.fill_(7)


def _write_official_release(tmp_path: Path, model_config: dict, seed: int = 0) -> tuple[Path, Path, AASIST]:
    """A random-init network saved like the authors' files: plain state dict .pth + JSON .conf."""
    torch.manual_seed(seed)
    cls = AASISTL if model_config["gat_dims"] == OFFICIAL_AASIST_L["gat_dims"] else AASIST
    model = cls(_unmask_config(model_config))
    _randomise_batch_norm_statistics(model, seed)
    tmp_path.mkdir(parents=True, exist_ok=True)
    pth, conf = tmp_path / "weights.pth", tmp_path / "model.conf"
    torch.save(model.state_dict(), pth)
    conf.write_text(json.dumps({"batch_size": 24, "model_config": model_config}))
    return pth, conf, model.eval()


def _speech(n: int, seconds: float, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([voiced(seconds, rng, f0=100 + 30 * i) for i in range(n)]))


def test_registry_builds_both_variants_with_the_papers_sizes():
    assert {"aasist", "aasist-l"} <= set(available_models())
    # Jung et al. 2022, Table 1: 297K (AASIST) and 85K (AASIST-L) parameters.
    assert round(build_model("aasist").num_parameters(), -3) == 298_000
    assert round(build_model("aasist-l").num_parameters(), -3) == 85_000
    assert build_model("aasist").window_samples == 64600
    with pytest.raises(ValueError, match="nb_samp"):
        build_model("aasist", {"window_s": 2.0})


def test_state_dict_uses_the_official_names_and_shapes():
    state = AASISTL(_unmask_config(OFFICIAL_AASIST_L)).state_dict()
    assert len(state) == 229
    for key, shape in OFFICIAL_AASIST_L_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert not any("band_pass" in key for key in state)  # the sinc filters are derived, not stored


@pytest.mark.parametrize(("model_config", "name"), [(SHORT_L, "aasist-l"), (SHORT_FULL, "aasist")])
def test_import_of_official_format_reproduces_the_logits(tmp_path, model_config, name):
    pth, conf, original = _write_official_release(tmp_path, model_config)
    ckpt = import_official_aasist(pth, conf)
    assert ckpt.model.name == name and not ckpt.model.training
    assert ckpt.model.config["nb_samp"] == model_config["nb_samp"]
    assert ckpt.card["source"]["weights_file"] == "weights.pth" and "MIT" in ckpt.card["licence"]
    x = _speech(2, model_config["nb_samp"] / 16000)
    with torch.no_grad():
        expected = original.official_logits(x)
        got = ckpt.model.official_logits(x)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        # Our score is the spoof-minus-bona-fide log-odds (column 0 = spoof in the official output).
        torch.testing.assert_close(ckpt.model(x), expected[:, 0] - expected[:, 1], rtol=0, atol=0)


def test_import_accepts_a_data_parallel_prefix(tmp_path):
    pth, conf, original = _write_official_release(tmp_path, SHORT_L)
    state = torch.load(pth, weights_only=True)
    torch.save({f"module.{k}": v for k, v in state.items()}, pth)
    ckpt = import_official_aasist(pth, conf)
    x = _speech(1, 1.0)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(x), original(x), rtol=0, atol=0)


def test_import_names_missing_unexpected_and_mis_shaped_weights(tmp_path):
    pth, conf, _ = _write_official_release(tmp_path, SHORT_L)
    state = torch.load(pth, weights_only=True)
    del state["HtrgGAT_layer_ST12.att_weight22"]
    state["extra.layer.weight"] = torch.zeros(3)
    state["out_layer.weight"] = torch.zeros(2, 99)
    torch.save(state, pth)
    with pytest.raises(UnmaskError) as info:
        import_official_aasist(pth, conf)
    message = str(info.value)
    assert "missing keys (1): HtrgGAT_layer_ST12.att_weight22" in message
    assert "unexpected keys (1): extra.layer.weight" in message
    assert "out_layer.weight (2, 99) vs (2, 160)" in message and "weights.pth" in message
    # The full-size AASIST weights against the AASIST-L config: many mismatches, listed and counted.
    big_pth, _, _ = _write_official_release(tmp_path / "big", SHORT_FULL)
    with pytest.raises(UnmaskError, match=r"shape mismatches .*\.\.\. and \d+ more"):
        import_official_aasist(big_pth, conf)


def test_import_rejects_bad_configs_and_files(tmp_path):
    pth, conf, _ = _write_official_release(tmp_path, SHORT_L)
    bad = tmp_path / "bad.conf"
    bad.write_text(json.dumps({"model_config": {**SHORT_L, "architecture": "RawNet2"}}))
    with pytest.raises(UnmaskError, match="'RawNet2' is not supported"):
        import_official_aasist(pth, bad)
    bad.write_text(json.dumps({"model_config": {**SHORT_L, "dropout": 0.1}}))
    with pytest.raises(UnmaskError, match=r"unknown \['dropout'\]"):
        import_official_aasist(pth, bad)
    bad.write_text("{not json")
    with pytest.raises(UnmaskError, match="not a JSON"):
        import_official_aasist(pth, bad)
    with pytest.raises(UnmaskError, match="config file not found"):
        import_official_aasist(pth, tmp_path / "absent.conf")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00not a torch file")
    with pytest.raises(UnmaskError, match="junk.pth: cannot read weights"):
        import_official_aasist(junk, conf)
    torch.save({"epoch": 3}, junk)
    with pytest.raises(UnmaskError, match="not a state dict"):
        import_official_aasist(junk, conf)


def test_eval_is_deterministic_and_gives_finite_logits_for_any_length():
    torch.manual_seed(0)
    model = AASISTL(_unmask_config(SHORT_L)).eval()
    x = _speech(2, 1.0)
    with torch.no_grad():
        first, second = model(x), model(x)
        longer = model(_speech(2, 1.7))
    assert first.shape == (2,) and torch.isfinite(first).all()
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert longer.shape == (2,) and torch.isfinite(longer).all()


def test_gradients_reach_every_weight_the_official_forward_uses():
    torch.manual_seed(0)
    model = AASISTL(_unmask_config(SHORT_L)).train()
    x = _speech(2, 1.0).requires_grad_()
    model(x).sum().backward()
    without_grad = {name for name, p in model.named_parameters() if p.grad is None}
    # Only the residual blocks' bn1: the official forward discards its output (kept for weight parity).
    assert without_grad == {f"encoder.{i}.0.bn1.{p}" for i in range(1, 6) for p in ("weight", "bias")}
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert all(torch.isfinite(g).all() for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert x.grad.abs().sum() > 0


def test_detector_scans_a_wav_with_the_imported_checkpoint_and_tiles_short_clips(tmp_path):
    pth, conf, original = _write_official_release(tmp_path, SHORT_L)
    out = tmp_path / "aasist-l.pt"
    save_checkpoint(out, import_official_aasist(pth, conf))
    detector = Detector.load(out)
    assert detector.window_s == 1.0

    clip = voiced(0.6, np.random.default_rng(3))  # shorter than the window: one window, tiled
    wav = save_audio(tmp_path / "clip.wav", clip, 16000)
    result = detector.scan(wav)
    assert result.verdict != "error" and len(result.timeline) == 1
    decoded = detector.model.window_samples
    tiled = np.tile(clip, 2)[:decoded]  # the official repeat-padding convention
    with torch.no_grad():
        logit = float(original(torch.from_numpy(tiled)[None]))
    # 16-bit WAV round trip changes the samples slightly; the score must still match closely.
    assert result.fake_probability == pytest.approx(float(expit(logit)), abs=1e-3)

    long_wav = save_audio(tmp_path / "long.wav", voiced(2.5, np.random.default_rng(4)), 16000)
    long_result = detector.scan(long_wav)
    assert long_result.verdict != "error" and len(long_result.timeline) >= 4
    assert all(0.0 <= w.fake_probability <= 1.0 for w in long_result.timeline)


def test_import_model_cli_writes_a_loadable_checkpoint(tmp_path):
    app = typer.Typer()
    app.command()(import_model)
    runner = CliRunner()
    pth, conf, original = _write_official_release(tmp_path, SHORT_L)
    out = tmp_path / "models" / "imported.pt"
    args = ["--weights", str(pth), "--conf", str(conf), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(out)
    assert ckpt.model.name == "aasist-l" and ckpt.card["source"]["config_file"] == "model.conf"
    x = _speech(1, 1.0)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(x), original(x), rtol=0, atol=0)

    assert runner.invoke(app, args).exit_code == 2  # exists, no --force
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    missing = runner.invoke(
        app, ["--weights", str(tmp_path / "nope.pth"), "--conf", str(conf), "--out", str(tmp_path / "x.pt")]
    )
    assert missing.exit_code == 2 and "weights file not found" in " ".join(missing.output.split())
    unknown = runner.invoke(app, [*args, "--force", "--format", "onnx"])
    assert unknown.exit_code == 2 and "unknown format" in unknown.output
