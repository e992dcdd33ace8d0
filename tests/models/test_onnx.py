"""ONNX export and the onnxruntime scoring path (docs/onnx.md).

- Every registered detector that declares ``Capabilities.onnx`` exports from its ``example_config`` and
  onnxruntime reproduces its torch logits within ``PARITY_TOLERANCE`` (max abs logit difference, 1e-3),
  for the probe batch and for other batch sizes (dynamic batch axis); one that does not declare it says
  so with an ``OnnxExportError`` naming it. A new model file is covered without touching this test.
- A model whose ops cannot export fails with a clear error naming the model (exit 2 at the CLI).
- ``Detector.load("x.onnx")`` gives the same verdicts, probabilities and timeline as the torch
  checkpoint, for a plain batch model and for Whisper-MLP (whose torch path shares blocks in strips);
  ``runtime="onnx"`` on a checkpoint exports it in memory; card, calibration and version travel along.
- ``unmask models export`` / ``scan --runtime onnx`` / ``evaluate --runtime onnx`` agree with torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from audio_fixtures import RATE, buzzy, voiced
from unmask.detect.calibration import Calibrator
from unmask.detect.pipeline import Detector
from unmask.errors import UnmaskError
from unmask.io import save_audio
from unmask.models.base import Capabilities, DetectorModel
from unmask.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from unmask.models.onnx_export import (
    PARITY_TOLERANCE,
    OnnxDetectorModel,
    OnnxExportError,
    export_graph,
    export_onnx,
    load_onnx,
    onnx_bytes,
)
from unmask.models.registry import available_models, build_model

NAMES = sorted(available_models())
runner = CliRunner()
# Scan probabilities of the same file through both runtimes (calibrated file and window scores).
PROBABILITY_TOLERANCE = 1e-4


def _speechy(n: int, batch: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    rows = [voiced(n / RATE + 0.01, rng, f0=100.0 + 30 * b)[:n] for b in range(batch)]
    return torch.from_numpy(np.stack(rows).astype(np.float32))


def _fitted(cls: type[DetectorModel], model: DetectorModel) -> DetectorModel:
    """Estimation models (LFCC-GMM) refuse to score until fitted on a few crops."""
    if cls.capabilities.training == "estimation":
        waves = _speechy(model.window_samples, 8, seed=1)
        model.fit_windows(iter([(waves.numpy(), np.array([0, 1] * 4))]), seed=0)
    return model


@pytest.mark.parametrize("name", NAMES)
def test_every_exportable_detector_matches_torch_in_onnxruntime(name, tmp_path):
    cls = available_models()[name]
    torch.manual_seed(0)
    model = _fitted(cls, cls(cls.example_config(tmp_path)).eval())
    if not cls.capabilities.onnx:
        with pytest.raises(OnnxExportError, match=name):
            onnx_bytes(Checkpoint(model))
        return
    data, probe_diff = onnx_bytes(Checkpoint(model))
    assert probe_diff <= PARITY_TOLERANCE
    runtime = OnnxDetectorModel(data, threads=1)
    assert runtime.window_samples == model.window_samples and runtime.sample_rate == model.sample_rate
    assert runtime.config == json.loads(json.dumps(model.config))
    for batch in (1, 4):  # other batch sizes than the traced one: the batch axis is dynamic
        wave = _speechy(model.window_samples, batch, seed=2 + batch)
        with torch.inference_mode():
            ours = model(wave).double()
            diff = (runtime(wave).double() - ours).abs().max().item()
        print(f"{name}: batch {batch}: max |logit difference| {diff:.3g}")
        assert diff <= PARITY_TOLERANCE, f"{name}: {diff}"
        # Random example weights give logits that move little with the input, so a graph bug (e.g. wrong
        # windows) can hide under 1e-3: also hold float32 rounding to the logits' own scale.
        assert diff <= 1e-4 * (1.0 + ours.abs().max().item()), f"{name}: {diff} for logits {ours.tolist()}"


class _StftAbs(DetectorModel):
    """A detector whose forward uses complex tensors directly: the ONNX exporter refuses it."""

    name: ClassVar[str] = "complex-stft-probe"
    default_config: ClassVar[dict[str, Any]] = {"sample_rate": 16000, "window_s": 0.5}

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(wave, 256, 128, window=torch.hann_window(256), return_complex=True)
        return spec.abs().mean(dim=(-2, -1))


class _Declared(_StftAbs):
    name: ClassVar[str] = "declared-probe"
    capabilities: ClassVar[Capabilities] = Capabilities(onnx=False, onnx_blocker="its ops need complex maths")


def test_models_that_cannot_export_say_which_and_why():
    with pytest.raises(OnnxExportError, match=r"'declared-probe' cannot be exported to ONNX: its ops need"):
        export_graph(_Declared().eval())
    with pytest.raises(OnnxExportError, match=r"'complex-stft-probe' cannot be exported to ONNX: \w+"):
        export_graph(_StftAbs().eval())


# ------------------------------------------------------------------------------------ Detector
@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(3)
    return {
        "real": save_audio(root / "real.wav", voiced(6.3, rng), RATE),
        "fake": save_audio(root / "fake.flac", buzzy(2.7, rng), RATE),
        "short": save_audio(root / "short.wav", voiced(0.2, rng), RATE),
    }


def _checkpoint(tmp: Path, name: str, config: dict[str, Any]) -> Path:
    torch.manual_seed(0)
    model = build_model(name, config).eval()
    calibration = Calibrator(scale=0.8, bias=-0.1).to_dict()
    card = {"summary": f"tiny {name} for the onnx tests", "licence": "test"}
    path = tmp / f"{name}.pt"
    save_checkpoint(path, Checkpoint(model, calibration, card, version="3"))
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("exported")
    pairs = {}
    for name, config in (
        ("lcnn", {"channels": [4, 6], "window_s": 1.0}),
        ("whisper-mlp", {"pretrained": False}),  # strips in torch, batches in onnx: same numbers
    ):
        pt = _checkpoint(root, name, config)
        export_onnx(load_checkpoint(pt), root / f"{name}.onnx", name=name)
        pairs[name] = (pt, root / f"{name}.onnx")
    return pairs


def _same_results(ours, theirs) -> None:
    assert [r.path for r in ours] == [r.path for r in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a.verdict == b.verdict and a.error == b.error
        if a.fake_probability is None:
            assert b.fake_probability is None
            continue
        assert abs(a.fake_probability - b.fake_probability) <= PROBABILITY_TOLERANCE
        assert [(w.start_s, w.end_s) for w in a.timeline] == [(w.start_s, w.end_s) for w in b.timeline]
        pairs = zip(a.timeline, b.timeline, strict=True)
        assert max(abs(x.fake_probability - y.fake_probability) for x, y in pairs) <= PROBABILITY_TOLERANCE


@pytest.mark.parametrize("name", ["lcnn", "whisper-mlp"])
def test_onnx_detector_scans_like_the_torch_checkpoint(name, exported, clips):
    pt, onnx_path = exported[name]
    torch_detector = Detector.load(pt, device="cpu")
    onnx_detector = Detector.load(onnx_path)  # auto: .onnx -> onnxruntime
    assert isinstance(onnx_detector.model, OnnxDetectorModel)
    assert isinstance(torch_detector.model, DetectorModel) and not isinstance(
        torch_detector.model, OnnxDetectorModel
    )
    assert (onnx_detector.window_s, onnx_detector.hop_s) == (torch_detector.window_s, torch_detector.hop_s)
    assert onnx_detector.min_duration_s == torch_detector.min_duration_s
    assert onnx_detector.card == torch_detector.card and onnx_detector.version == "3"
    assert onnx_detector.calibrator.to_dict() == torch_detector.calibrator.to_dict()
    paths = [clips["real"], clips["fake"], clips["short"]]
    ours, theirs = list(torch_detector.scan_many(paths)), list(onnx_detector.scan_many(paths))
    assert ours[0].fake_probability is not None and ours[2].verdict == "error"  # short: error both ways
    _same_results(ours, theirs)


def test_onnx_runtime_on_a_checkpoint_exports_it_in_memory(exported, clips):
    pt, _ = exported["lcnn"]
    in_memory = Detector.load(pt, runtime="onnx", device="auto")
    assert isinstance(in_memory.model, OnnxDetectorModel) and in_memory.device.type == "cpu"
    _same_results([Detector.load(pt, device="cpu").scan(clips["real"])], [in_memory.scan(clips["real"])])


def test_runtime_choices_are_checked(exported):
    pt, onnx_path = exported["lcnn"]
    with pytest.raises(UnmaskError, match="scored by onnxruntime"):
        Detector.load(onnx_path, runtime="torch")
    with pytest.raises(UnmaskError, match="unknown runtime"):
        Detector.load(pt, runtime="tensorrt")


def test_an_onnx_file_without_unmask_metadata_is_refused(exported, tmp_path):
    import onnx

    _, onnx_path = exported["lcnn"]
    proto = onnx.load(str(onnx_path))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    with pytest.raises(UnmaskError, match="without unmask metadata"):
        load_onnx(tmp_path / "bare.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(UnmaskError, match="not an ONNX file"):
        Detector.load(tmp_path / "junk.onnx")


# ------------------------------------------------------------------------------------ CLI
def test_cli_export_scan_and_evaluate_with_the_onnx_runtime(exported, clips, tmp_path):
    from unmask.cli.main import app
    from unmask.data.manifest import Manifest

    pt, _ = exported["lcnn"]
    out = tmp_path / "tiny.onnx"
    result = runner.invoke(app, ["models", "export", str(pt), "--onnx", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["architecture"] == "lcnn" and summary["max_abs_logit_difference"] <= PARITY_TOLERANCE
    assert out.stat().st_size == summary["bytes"]

    files = [str(clips["real"]), str(clips["fake"])]
    by_torch = runner.invoke(app, ["scan", *files, "-m", str(pt), "--format", "json", "--device", "cpu"])
    by_onnx = runner.invoke(app, ["scan", *files, "-m", str(out), "--runtime", "onnx", "--format", "json"])
    assert by_torch.exit_code == 0 and by_onnx.exit_code == 0, by_onnx.output
    for a, b in zip(json.loads(by_torch.stdout), json.loads(by_onnx.stdout), strict=True):
        assert a["verdict"] == b["verdict"]
        assert abs(a["fake_probability"] - b["fake_probability"]) <= PROBABILITY_TOLERANCE

    records = [{"path": files[0], "label": "real"}, {"path": files[1], "label": "fake"}]
    Manifest.from_records(records, tmp_path).write(tmp_path / "m.csv")
    scores = []
    for model, extra in ((str(pt), ["--device", "cpu"]), (str(out), ["--runtime", "onnx"])):
        csv = tmp_path / f"scores-{len(scores)}.csv"
        args = ["evaluate", str(tmp_path / "m.csv"), "-m", model, *extra, "--out", str(csv), "--json"]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        scores.append(pd.read_csv(csv)["fake_probability"].to_numpy())
    np.testing.assert_allclose(scores[1], scores[0], atol=PROBABILITY_TOLERANCE)
    wrong = runner.invoke(app, ["scan", files[0], "-m", str(out), "--runtime", "torch"])
    assert wrong.exit_code == 2 and "onnxruntime" in wrong.output


def test_cli_export_of_an_unexportable_model_exits_2_naming_it(exported, tmp_path, monkeypatch):
    from unmask.cli.main import app

    lcnn = available_models()["lcnn"]
    blocked = Capabilities(embedding=True, onnx=False, onnx_blocker="declared so for this test")
    monkeypatch.setattr(lcnn, "capabilities", blocked)
    pt, _ = exported["lcnn"]
    result = runner.invoke(app, ["models", "export", str(pt), "--onnx", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2
    assert "'lcnn' cannot be exported to ONNX: declared so for this test" in result.output
    assert not (tmp_path / "x.onnx").exists()
    nowhere = tmp_path / "no" / "x.onnx"
    assert runner.invoke(app, ["models", "export", str(pt), "--onnx", str(nowhere)]).exit_code == 2
