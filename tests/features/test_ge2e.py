"""GE2E speaker encoder in torch: parity with resemblyzer's own VoiceEncoder on real speech."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from speech_clips import real_speech
from unmask.errors import UnmaskError
from unmask.features import GE2E, PRETRAINED, build_feature
from unmask.features import _pretrained as pretrained
from unmask.features import ge2e as ge2e_module

NEEDS = "resemblyzer not installed (pip install --no-deps resemblyzer webrtcvad-wheels)"


def _installed() -> bool:
    try:
        ge2e_module.weights_path()
    except UnmaskError:
        return False
    return True


needs_wheel = pytest.mark.skipif(not _installed(), reason=NEEDS)


def _resemblyzer():
    """resemblyzer itself (imports webrtcvad and librosa), for the reference side of the parity tests."""
    if importlib.util.find_spec("webrtcvad") is None or importlib.util.find_spec("librosa") is None:
        pytest.skip("resemblyzer's reference path needs webrtcvad (webrtcvad-wheels) and librosa")
    return pytest.importorskip("resemblyzer", reason=NEEDS)


@pytest.fixture(scope="module")
def module() -> GE2E:
    if not _installed():
        pytest.skip(NEEDS)
    return GE2E()


@pytest.fixture(scope="module")
def reference():
    resemblyzer = _resemblyzer()
    return resemblyzer, resemblyzer.VoiceEncoder(device="cpu", verbose=False)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> np.ndarray:
    return real_speech(6.0, tmp_path_factory.mktemp("speech"))


@needs_wheel
def test_parity_with_resemblyzer_voice_encoder(module: GE2E, reference, clip: np.ndarray) -> None:
    resemblyzer, encoder = reference
    for seconds in (1.2, 6.0):  # one partial; several, the last zero-padded
        wav = resemblyzer.preprocess_wav(clip[: int(seconds * 16000)])  # volume + VAD trimming
        ref, ref_partials, _ = encoder.embed_utterance(wav, return_partials=True)
        with torch.no_grad():
            ours = module.embed_utterance(torch.from_numpy(wav)).numpy()
        assert len(ge2e_module.partial_starts(len(wav))) == len(ref_partials)
        # Measured: max abs diff 2.4e-7, cosine 1.0000000 (1.4 s and 6 s clips).
        assert np.abs(ours - ref).max() < 1e-5
        assert float(ours @ ref) > 0.99999
    with torch.no_grad():
        batch = module.embed_utterance(torch.from_numpy(np.stack([clip[:32000], clip[16000:48000]])))
        one = module.embed_utterance(torch.from_numpy(clip[16000:48000]))
    assert batch.shape == (2, 256)
    torch.testing.assert_close(batch[1], one, rtol=1e-5, atol=1e-6)


@needs_wheel
def test_mel_volume_and_frame_states_match_resemblyzer(module: GE2E, reference, clip: np.ndarray) -> None:
    resemblyzer, encoder = reference
    from resemblyzer import audio

    wav = resemblyzer.preprocess_wav(clip[:48000])
    ref_mel = audio.wav_to_mel_spectrogram(wav)
    with torch.no_grad():
        mel = module.mel(torch.from_numpy(wav)).numpy()
        states = module.frame_states(torch.from_numpy(wav)).numpy()
        ref_states, _ = encoder.lstm(torch.from_numpy(ref_mel)[None])
    assert mel.shape == ref_mel.shape == (module.num_frames(len(wav)), 40)
    assert np.abs(mel - ref_mel).max() < 1e-5 * ref_mel.max()
    assert states.shape == (len(ref_mel), 256)
    assert np.abs(states - ref_states[0].numpy()).max() < 1e-5

    quiet = clip[:16000] * 0.01  # raised to -30 dBFS
    loud = clip[:16000] / np.abs(clip[:16000]).max()  # above -30 dBFS: left alone (increase only)
    for wave in (quiet, loud):
        expected = audio.normalize_volume(wave, -30, increase_only=True)
        got = module.preprocess(torch.from_numpy(wave)[None])[0].numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n_samples", [100, 8000, 25_600, 30_000, 41_000, 96_000, 123_457])
@pytest.mark.parametrize("rate", [1.3, 0.7, 4.0])
def test_partial_slices_match_resemblyzer(n_samples: int, rate: float) -> None:
    resemblyzer = _resemblyzer()
    _, mel_slices = resemblyzer.VoiceEncoder.compute_partial_slices(n_samples, rate, 0.75)
    assert ge2e_module.partial_starts(n_samples, rate, 0.75) == [s.start for s in mel_slices]


@needs_wheel
def test_layers_layout_and_freezing(module: GE2E, clip: np.ndarray) -> None:
    wave = torch.from_numpy(np.stack([clip[:16000], clip[8000:24000]]))
    with torch.no_grad():
        feats = module(wave)
        states = module.frame_states(wave)
    assert feats.shape == (2, 256, module.num_frames(16000)) == (2, 256, 101)
    torch.testing.assert_close(feats.transpose(1, 2), states)
    with torch.no_grad():
        first = GE2E(layer=0).frame_states(wave)
    assert first.shape == states.shape and not torch.allclose(first, states)
    with pytest.raises(ValueError, match="layer must be 0-2"):
        GE2E(layer=3)

    assert not any(p.requires_grad for p in module.parameters())
    module.train()
    assert not module.training
    grad_wave = wave.clone().requires_grad_()
    module.embed_utterance(grad_wave).sum().backward()
    assert grad_wave.grad is not None and torch.isfinite(grad_wave.grad).all()
    tuned = GE2E(trainable=True).train()
    assert tuned.training and all(p.requires_grad for p in tuned.parameters())


@needs_wheel
def test_registered_as_a_front_end(clip: np.ndarray) -> None:
    assert PRETRAINED["ge2e"] is GE2E
    module = build_feature("ge2e", sample_rate=16000)
    rebuilt = build_feature(**module.config())
    wave = torch.from_numpy(clip[:8000])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(wave), module(wave), rtol=0, atol=0)
    with pytest.raises(ValueError, match="16000 Hz"):
        build_feature("ge2e", sample_rate=22050)


def test_missing_wheel_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(pretrained, "_find_spec", lambda name: None)
    with pytest.raises(UnmaskError, match="'resemblyzer' is not installed") as info:
        build_feature("ge2e")
    assert "--no-deps resemblyzer" in str(info.value.hint)
