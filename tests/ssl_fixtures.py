"""Tiny random-init self-supervised speech encoders saved as local directories, the way a user's
downloaded wav2vec 2.0 / HuBERT / WavLM checkpoint looks; shared by the SSL and fusion tests."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel, HubertConfig, Wav2Vec2Config, WavLMConfig

# Real conv strides (5 * 8 * 8 = 320 samples, 50 frames/s), tiny widths.
TINY_SSL = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(16, 16, 16),
    conv_kernel=(10, 8, 4),
    conv_stride=(5, 8, 8),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
SSL_CONFIGS = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}


def tiny_ssl_dir(path: Path, kind: str = "wav2vec2", seed: int = 0, **overrides) -> Path:
    """Save a seeded random-init ``kind`` encoder (TINY_SSL + ``overrides``) to ``path``."""
    torch.manual_seed(seed)
    AutoModel.from_config(SSL_CONFIGS[kind](**{**TINY_SSL, **overrides})).save_pretrained(path)
    return path
