"""The GE2E speaker encoder of ``resemblyzer`` as a torch module: per-frame LSTM states and d-vectors.

GE2E (Wan et al., "Generalized end-to-end loss for speaker verification", ICASSP 2018) as trained by
Resemblyzer (Apache-2.0): a 3-layer LSTM with 256 units over 40-band mel frames (25 ms every 10 ms), a
linear layer, ReLU and L2 normalisation. The weights are loaded from the installed ``resemblyzer`` wheel's
``resemblyzer/pretrained.pt`` (``weights_only``; the package itself is never imported, so neither its
``webrtcvad`` nor its librosa import is needed at run time). Nothing is downloaded or committed.

Preprocessing reproduces resemblyzer's, in torch:

- ``normalize_volume`` (default on): scale each item up, never down, to -30 dBFS RMS, as
  ``resemblyzer.preprocess_wav`` does. Its second step, webrtcvad-based trimming of long silences, is not
  part of this module (it is not differentiable and changes the length); feed trimmed audio for exact
  resemblyzer embeddings of silence-padded recordings.
- mel: ``librosa.feature.melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)``: periodic Hann
  400, centred frames (``pad_mode`` zeros as librosa >= 0.10), power spectrum, Slaney mel with Slaney area
  normalisation, **no log** (resemblyzer's network takes the linear mel power).

Outputs:

- :meth:`GE2E.frame_states` ``[B, frames, 256]``: the last LSTM layer's output at every frame, the LSTM run
  over the whole input (``forward`` gives ``[B, 256, frames]``, the front-end layout); frame ``k`` is centred
  on sample ``160 k``. ``layer`` picks another LSTM layer (0-2).
- :meth:`GE2E.embed_utterance` ``[B, 256]``: resemblyzer's ``VoiceEncoder.embed_utterance``: 1.6 s partials
  (160 frames) every ``1 / rate`` s, each embedded from the LSTM's final state, averaged, L2-normalised.

Frozen by default (``requires_grad=False``, eval mode kept); ``trainable=True`` fine-tunes. Computation is in
the parameters' dtype (float32 unless the module is cast).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.errors import UnmaskError
from unmask.features._pretrained import FrozenByDefault, freeze, package_file
from unmask.features.spectral import FeatureModule, MelSpectrogram, _as_batch

PACKAGE = "resemblyzer"
WEIGHTS_FILE = "pretrained.pt"
INSTALL_HINT = "pip install --no-deps resemblyzer webrtcvad-wheels (`make install` does this)"

SAMPLE_RATE = 16_000
N_MELS = 40
HOP = 160  # 10 ms
N_FFT = 400  # 25 ms
HIDDEN = 256
EMBEDDING_DIM = 256
N_LAYERS = 3
PARTIAL_FRAMES = 160  # 1.6 s
TARGET_DBFS = -30.0
_STATE_KEYS = ("lstm.", "linear.")


def weights_path() -> Path:
    """``resemblyzer/pretrained.pt`` of the installed wheel; :class:`UnmaskError` with a hint when absent."""
    return package_file(PACKAGE, WEIGHTS_FILE, install_hint=INSTALL_HINT)


def load_resemblyzer_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The encoder's ``lstm.*`` and ``linear.*`` tensors from a resemblyzer checkpoint (GE2E's similarity
    scale and bias, training-only, are dropped)."""
    try:
        checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle and zip errors share no base class
        raise UnmaskError(f"unreadable resemblyzer checkpoint ({exc})", path=path, hint=INSTALL_HINT) from exc
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise UnmaskError("not a resemblyzer checkpoint (no model_state)", path=path, hint=INSTALL_HINT)
    return {key: value for key, value in state.items() if key.startswith(_STATE_KEYS)}


def partial_starts(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> list[int]:
    """First mel frame of each 160-frame partial of an utterance of ``n_samples`` samples, as resemblyzer's
    ``VoiceEncoder.compute_partial_slices``: one every ``round(16000 / rate / 160)`` frames covering the
    whole utterance; the last is dropped when it would hold less than ``min_coverage`` of real samples
    (unless it is the only one)."""
    if not 0 < min_coverage <= 1:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    n_frames = math.ceil((n_samples + 1) / HOP)
    step = round(SAMPLE_RATE / rate / HOP)
    if not 0 < step <= PARTIAL_FRAMES:
        raise ValueError(f"rate {rate} gives a partial step of {step} frames; it must be 1-{PARTIAL_FRAMES}")
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    return starts


class GE2E(FrozenByDefault, FeatureModule):
    """Resemblyzer's GE2E encoder: waveform ``[B, T]`` -> LSTM states ``[B, 256, frames]`` (``forward``),
    ``frame_states`` ``[B, frames, 256]``, ``embed_utterance`` ``[B, 256]``.

    ``layer``: which LSTM layer's outputs :meth:`frame_states` returns (default 2, the last).
    ``normalize_volume``: resemblyzer's -30 dBFS increase-only gain first. ``pad_mode``: the mel's centre
    padding (``"constant"`` as librosa >= 0.10, ``"reflect"`` as older librosa). ``trainable``: unfreeze.
    ``weights``: another resemblyzer checkpoint (default: the installed wheel's ``pretrained.pt``).
    """

    name = "ge2e"
    n_features = HIDDEN

    def __init__(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        layer: int = N_LAYERS - 1,
        normalize_volume: bool = True,
        pad_mode: str = "constant",
        trainable: bool = False,
        weights: str | None = None,
    ) -> None:
        super().__init__(sample_rate=sample_rate, layer=layer, normalize_volume=normalize_volume,
                         pad_mode=pad_mode, trainable=trainable, weights=weights)  # fmt: skip
        if sample_rate != SAMPLE_RATE:
            raise ValueError(
                f"the GE2E encoder works on {SAMPLE_RATE} Hz audio, got sample_rate={sample_rate}"
            )
        if not 0 <= layer < N_LAYERS:
            raise ValueError(f"layer must be 0-{N_LAYERS - 1}, got {layer}")
        self.layer = int(layer)
        self.normalize_volume = bool(normalize_volume)
        self.trainable = bool(trainable)
        self.mel_frontend = MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=N_FFT, hop_length=HOP, window="hann",
            periodic_window=True, center=True, pad_mode=pad_mode, n_mels=N_MELS, f_min=0.0, f_max=None,
            mel_scale="slaney", norm="slaney", log=None,
        )  # fmt: skip
        # One single-layer LSTM per layer (resemblyzer has one 3-layer nn.LSTM: same maths, but every
        # layer's states stay reachable).
        self.lstm = nn.ModuleList(
            nn.LSTM(N_MELS if i == 0 else HIDDEN, HIDDEN, 1, batch_first=True) for i in range(N_LAYERS)
        )
        self.linear = nn.Linear(HIDDEN, EMBEDDING_DIM)
        where = weights if weights is not None else weights_path()
        try:
            self.load_state_dict(_from_resemblyzer(load_resemblyzer_state(where)), strict=True)
        except RuntimeError as exc:
            raise UnmaskError(
                f"resemblyzer checkpoint does not fit the GE2E encoder ({exc})", path=where
            ) from exc
        if not self.trainable:
            freeze(self)

    def num_frames(self, n_samples: int) -> int:
        return 1 + n_samples // HOP

    def _dtype(self) -> torch.dtype:
        return self.linear.weight.dtype

    def preprocess(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` -> ``[B, T]`` in the parameters' dtype, volume-normalised if ``normalize_volume``."""
        wave = waveform.to(self._dtype())
        if not self.normalize_volume:
            return wave
        rms = wave.pow(2).mean(dim=-1, keepdim=True).sqrt()
        target = 10.0 ** (TARGET_DBFS / 20.0)
        return wave * (target / rms.clamp_min(1e-6)).clamp_min(1.0)  # increase only

    def mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` (or ``[T]``) -> the LSTM's input, linear mel power ``[B, frames, 40]`` (no volume
        normalisation here: :meth:`preprocess` does it)."""
        batch, single = _as_batch(waveform, type(self).__name__)
        mel = self.mel_frontend(batch.to(self._dtype())).transpose(1, 2)
        return mel[0] if single else mel

    def embed_mels(self, mels: torch.Tensor) -> torch.Tensor:
        """Mel segments ``[N, frames, 40]`` -> one L2-normalised embedding each ``[N, 256]`` (resemblyzer's
        ``VoiceEncoder.forward``: the last layer's final hidden state, linear, ReLU)."""
        out = mels
        for lstm in self.lstm[:-1]:
            out, _ = lstm(out)
        _, (hidden, _) = self.lstm[-1](out)
        return F.normalize(F.relu(self.linear(hidden[-1])), dim=-1)

    def layer_states(self, waveform: torch.Tensor, upto: int = N_LAYERS - 1) -> torch.Tensor:
        """``[B, T]`` -> the outputs of LSTM layers 0..``upto`` ``[B, upto + 1, frames, 256]`` (only those
        layers run)."""
        out = self.mel(self.preprocess(waveform))
        states = []
        for lstm in self.lstm[: upto + 1]:
            out, _ = lstm(out)
            states.append(out)
        return torch.stack(states, dim=1)

    def frame_states(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` (or ``[T]``) -> LSTM outputs of layer ``self.layer`` ``[B, frames, 256]``."""
        batch, single = _as_batch(waveform, type(self).__name__)
        out = self.layer_states(batch, upto=self.layer)[:, -1]
        return out[0] if single else out

    def embed_utterance(
        self, waveform: torch.Tensor, *, rate: float = 1.3, min_coverage: float = 0.75
    ) -> torch.Tensor:
        """``[B, T]`` (or ``[T]``) -> utterance embeddings ``[B, 256]`` (or ``[256]``), as resemblyzer's
        ``embed_utterance``: zero-pad to the last partial's end, embed each partial, average, L2-normalise."""
        batch, single = _as_batch(waveform, type(self).__name__)
        wave = self.preprocess(batch)
        starts = partial_starts(wave.shape[-1], rate, min_coverage)
        end = (starts[-1] + PARTIAL_FRAMES) * HOP
        if end > wave.shape[-1]:
            wave = F.pad(wave, (0, end - wave.shape[-1]))
        mel = self.mel(wave)  # [B, frames, 40]
        partials = torch.stack([mel[:, s : s + PARTIAL_FRAMES] for s in starts], dim=1)  # [B, P, 160, 40]
        embeds = self.embed_mels(partials.flatten(0, 1)).unflatten(0, partials.shape[:2])
        out = F.normalize(embeds.mean(dim=1), dim=-1)
        return out[0] if single else out

    def _features(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.frame_states(waveform).transpose(1, 2)


def _from_resemblyzer(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``lstm.weight_ih_l1`` -> ``lstm.1.weight_ih_l0``; ``linear.*`` unchanged."""
    out = {}
    for key, value in state.items():
        match = re.fullmatch(r"lstm\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)", key)
        out[f"lstm.{match[2]}.{match[1]}_l0" if match else key] = value
    return out
