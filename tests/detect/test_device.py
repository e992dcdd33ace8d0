"""``--device`` / ``device=``: one resolution (unmask._device) for the Detector, the trainer and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from audio_fixtures import RATE, buzzy, voiced
from unmask import _device
from unmask._device import DeviceError, module_device, resolve_device
from unmask.cli.main import app
from unmask.data.manifest import Manifest
from unmask.detect.pipeline import Detector
from unmask.errors import UnmaskError
from unmask.io import save_audio
from unmask.models.checkpoint import Checkpoint, save_checkpoint
from unmask.models.registry import build_model
from unmask.train.data import ClipBank
from unmask.train.trainer import TrainConfig, Trainer

runner = CliRunner()
TINY = {"channels": [4, 4], "window_s": 1.0}


@pytest.fixture
def no_cuda(monkeypatch):
    """As on a machine without a GPU, whatever this one has."""
    monkeypatch.setattr(_device, "cuda_available", lambda: False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("device")
    rng = np.random.default_rng(0)
    clips = [save_audio(root / f"{name}{i}.wav", make(2.3, rng), RATE)
             for i in range(2) for name, make in (("real", voiced), ("fake", buzzy))]  # fmt: skip
    Manifest.from_records(
        [{"path": str(p), "label": "fake" if "fake" in p.name else "real", "source": "s"} for p in clips],
        root,
    ).write(root / "manifest.csv")
    torch.manual_seed(0)
    save_checkpoint(root / "tiny.pt", Checkpoint(build_model("lcnn", TINY)))
    return {"root": root, "model": root / "tiny.pt", "manifest": root / "manifest.csv", "clips": clips}


# --------------------------------------------------------------------------------------- resolution
def test_auto_is_cpu_without_cuda_and_cuda_with_it(no_cuda, monkeypatch) -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(_device, "cuda_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_auto_on_this_machine() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_cpu_and_spellings() -> None:
    for name in ("cpu", "CPU", " cpu ", torch.device("cpu")):
        assert resolve_device(name) == torch.device("cpu")


def test_cuda_unavailable_is_a_clear_error(no_cuda) -> None:
    for name in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(DeviceError, match="CUDA was requested but is not available") as info:
            resolve_device(name)
        assert "--device cpu" in info.value.hint
        assert isinstance(info.value, UnmaskError)


def test_missing_gpu_index_and_unknown_names(monkeypatch) -> None:
    monkeypatch.setattr(_device, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(DeviceError, match="CUDA device 3 requested but torch sees 1 GPU"):
        resolve_device("cuda:3")
    for name in ("gpu", "tpu", "mps", "cuda:x", ""):
        with pytest.raises(DeviceError, match="unknown device"):
            resolve_device(name)
    with pytest.raises(DeviceError):
        resolve_device(0)  # type: ignore[arg-type]


def test_module_device() -> None:
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")  # no tensors at all


# --------------------------------------------------------------------------------------- Detector
def test_detector_device(files, no_cuda) -> None:
    detector = Detector.load(files["model"], device="cpu")
    assert detector.device == torch.device("cpu") and module_device(detector.model).type == "cpu"
    assert Detector.load(files["model"]).device == torch.device("cpu")  # auto, no GPU
    assert detector.with_settings(batch_size=2).device == detector.device
    assert Detector(build_model("lcnn", TINY)).device == torch.device("cpu")  # None: where the model is
    with pytest.raises(DeviceError, match="CUDA"):
        Detector.load(files["model"], device="cuda")
    with pytest.raises(DeviceError, match="CUDA"):
        Detector(build_model("lcnn", TINY), device="cuda")
    logits = detector.score_batch([np.zeros(RATE, np.float32), np.ones(RATE // 2, np.float32) * 0.1])
    assert isinstance(logits, np.ndarray) and logits.dtype == np.float64 and logits.shape == (2,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_scan_matches_cpu(files) -> None:
    cpu = Detector.load(files["model"], device="cpu")
    gpu = Detector.load(files["model"], device="cuda")
    assert next(gpu.model.parameters()).is_cuda
    for a, b in zip(cpu.scan_many(files["clips"]), gpu.scan_many(files["clips"]), strict=True):
        assert abs(a.fake_probability - b.fake_probability) < 1e-4


def test_trainer_device_setting(files, no_cuda, tmp_path) -> None:
    assert TrainConfig().device == "auto"
    bank = ClipBank([voiced(1.5, np.random.default_rng(1)), buzzy(1.5, np.random.default_rng(2))],
                    np.array([0, 1]), np.array(["a", "a"]), ["r", "f"])  # fmt: skip
    config = TrainConfig(model="lcnn", model_config=TINY, epochs=1, steps_per_epoch=1, batch_size=2)
    with pytest.raises(DeviceError, match="CUDA"):
        Trainer(TrainConfig(**{**vars(config), "device": "cuda"}), tmp_path / "gpu").fit(bank)
    assert not (tmp_path / "gpu" / "best.pt").exists()
    ckpt = Trainer(TrainConfig(**{**vars(config), "device": "cpu"}), tmp_path / "cpu").fit(bank)
    assert module_device(ckpt.model).type == "cpu"


# --------------------------------------------------------------------------------------- CLI
def _scores(output: str) -> dict[str, float]:
    return {row["path"]: row["fake_probability"] for row in json.loads(output)}


def test_scan_with_device_cpu_gives_the_same_scores(files) -> None:
    base = ["scan", "--model", str(files["model"]), "--format", "json", *map(str, files["clips"])]
    plain = runner.invoke(app, base)
    on_cpu = runner.invoke(app, [*base, "--device", "cpu"])
    auto = runner.invoke(app, [*base, "--device", "auto"])
    assert plain.exit_code == on_cpu.exit_code == auto.exit_code == 0, plain.output + on_cpu.output
    assert _scores(plain.stdout) == _scores(on_cpu.stdout)
    if not torch.cuda.is_available():
        assert _scores(auto.stdout) == _scores(plain.stdout)


def test_cli_cuda_without_a_gpu_exits_2(files, no_cuda, tmp_path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "manifests": [str(files["manifest"])], "leave_one_out": None, "out_dir": str(tmp_path / "run"),
        "trainer": {"model_config": TINY, "epochs": 1, "steps_per_epoch": 1, "batch_size": 2},
    }))  # fmt: skip
    bench = tmp_path / "bench.yaml"
    bench.write_text("name: b\n")  # never read: the device is checked first
    commands = {
        "scan": ["scan", "--model", str(files["model"]), str(files["clips"][0])],
        "evaluate": ["evaluate", str(files["manifest"]), "--model", str(files["model"])],
        "train": ["train", str(recipe)],
        "bench": ["bench", str(bench), "--out", str(tmp_path / "bench-run")],
    }
    for name, args in commands.items():
        result = runner.invoke(app, [*args, "--device", "cuda"])
        assert result.exit_code == 2, (name, result.output)
        assert "CUDA was requested but is not available" in result.output, name
        bogus = runner.invoke(app, [*args, "--device", "quantum"])
        assert bogus.exit_code == 2 and "unknown device 'quantum'" in bogus.output, name
    assert not (tmp_path / "run").exists() and not (tmp_path / "bench-run").exists()


def test_train_device_from_the_recipe(files, no_cuda, tmp_path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "manifests": [str(files["manifest"])], "leave_one_out": None, "out_dir": str(tmp_path / "run"),
        "trainer": {"model_config": TINY, "epochs": 1, "steps_per_epoch": 1, "batch_size": 2,
                    "device": "cuda"},
    }))  # fmt: skip
    assert runner.invoke(app, ["train", str(recipe)]).exit_code == 2  # the recipe's trainer.device
    result = runner.invoke(app, ["-q", "train", str(recipe), "--device", "cpu"])  # the flag overrides it
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model.pt").exists()
