"""SSL front-end detectors: a wav2vec 2.0 / HuBERT / WavLM encoder (``transformers``) + a small back-end.

The self-supervised encoder is read from a LOCAL Hugging Face model directory (``ssl_path``); nothing is
ever downloaded. Its hidden states (all layers, or the ones in ``layers``) are combined by a learned
softmax-weighted sum, as in the SUPERB benchmark (Yang et al. 2021), and fed to one of two back-ends:

- ``"linear"``: a projection, attentive (or plain mean + std) statistics pooling over frames and a linear
  layer; the cheap probe used to compare SSL layers and models;
- ``"aasist"``: the AASIST graph back-end of :mod:`unmask.models.aasist` on the SSL feature map, as in the
  wav2vec 2.0 + AASIST system of Tak et al., "Automatic speaker verification spoofing and deepfake
  detection using wav2vec 2.0 and data augmentation", Odyssey 2022: a linear projection of each frame to
  ``proj_dim`` values, read as a (``proj_dim`` x frame) map, 3x3 max pooling, batch norm, SELU, residual
  blocks without time pooling, then the graph attention back-end.

A checkpoint must rebuild without the original directory: at build time the directory's HF config is
copied into the detector config (``ssl_config``, plain JSON data), ``ssl_path`` is cleared and the
directory is kept only as provenance (``ssl_source``). A config with ``ssl_config`` builds the encoder
with random weights; :func:`unmask.models.checkpoint.load_checkpoint` then loads the trained weights.

``transformers`` is imported only when an encoder is built: importing it costs several seconds, and
``unmask.models.ssl`` is imported whenever the registry lists detectors.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unmask.errors import UnmaskError
from unmask.models.aasist import GraphBackendMixin, ResidualBlock
from unmask.models.base import Capabilities, DetectorModel, normalise_loudness
from unmask.models.registry import register

SUPPORTED_SSL_TYPES = ("wav2vec2", "hubert", "wavlm")
SSL_SAMPLE_RATE = 16000  # every supported encoder was pre-trained on 16 kHz audio
DOWNLOAD_HINT = (
    "on a machine with internet run e.g. `huggingface-cli download facebook/wav2vec2-xls-r-300m "
    "--local-dir DIR`, copy DIR here and set ssl_path to it (see docs/detectors-ssl.md)"
)

# A tiny random-init wav2vec 2.0 with the real convolution strides (320 samples, 50 frames per second):
# the SSL detectors' example config for the contract test, built from a config dict, no directory.
TINY_EXAMPLE_SSL: dict[str, Any] = {
    "model_type": "wav2vec2", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 64, "conv_dim": [16, 16, 16], "conv_kernel": [10, 8, 4], "conv_stride": [5, 8, 8],
    "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2,
}

# Settings of the SSL front-end, shared by every detector that uses one (see SSLFrontend).
SSL_FRONTEND_DEFAULTS: dict[str, Any] = {
    "ssl_path": None,  # local HF model directory: read once at build time
    "ssl_config": None,  # HF config as a plain dict: pins the architecture (filled in from ssl_path)
    "ssl_source": None,  # provenance only: the directory the weights came from
    "freeze_ssl": True,  # frozen: only the layer weights and back-end train (cheap, CPU-friendly)
    "freeze_feature_encoder": True,  # when fine-tuning, keep the convolutional feature encoder fixed
    "layers": None,  # hidden-state indices to combine (0 = CNN/embedding output); None = all
    "normalise_layers": True,  # layer-norm each hidden state before the weighted sum (SUPERB practice)
    "input_norm": None,  # zero-mean unit-variance per utterance; None = from preprocessor_config.json
}


# --------------------------------------------------------------------------------- local directories
def read_ssl_directory(path: str | Path) -> dict[str, Any]:
    """Check that ``path`` is a local HF model directory of a supported type; return its config.json."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise UnmaskError("SSL model directory not found", path=path, hint=DOWNLOAD_HINT)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UnmaskError(
            "not a Hugging Face model directory (no config.json)", path=path, hint=DOWNLOAD_HINT
        )
    try:
        hf_config = json.loads(config_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UnmaskError(f"unreadable config.json ({exc})", path=config_file) from exc
    _check_model_type(hf_config.get("model_type"), where=path)
    return hf_config


def _check_model_type(model_type: object, where: object) -> None:
    if model_type not in SUPPORTED_SSL_TYPES:
        raise UnmaskError(
            f"unsupported SSL model type {model_type!r}",
            path=str(where),
            hint=f"use a {', '.join(SUPPORTED_SSL_TYPES)} model (e.g. facebook/wav2vec2-xls-r-300m, "
            "facebook/hubert-base-ls960, microsoft/wavlm-base-plus)",
        )


def _input_norm_from_directory(path: Path) -> bool:
    """The ``do_normalize`` setting of the model's feature extractor; True (HF's default) when absent.

    Models pre-trained on normalised waveforms (XLS-R, wav2vec2-large) need it; some base models were
    not (HuBERT base, WavLM base+) and say so in preprocessor_config.json.
    """
    preprocessor = path / "preprocessor_config.json"
    if not preprocessor.is_file():
        return True
    settings = json.loads(preprocessor.read_text())
    rate = settings.get("sampling_rate", SSL_SAMPLE_RATE)
    if rate != SSL_SAMPLE_RATE:
        raise UnmaskError(f"SSL model expects {rate} Hz audio; unmask SSL detectors run at 16 kHz", path=path)
    return bool(settings.get("do_normalize", True))


def _load_pretrained(path: Path) -> nn.Module:
    from transformers import AutoModel  # lazy: see the module docstring

    try:
        # float32 explicitly: "auto" would keep a half-precision checkpoint in half precision.
        return AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise UnmaskError(
            f"cannot load the SSL model ({str(exc).splitlines()[0]})", path=path, hint=DOWNLOAD_HINT
        ) from exc


def _build_from_config(hf_config: dict[str, Any]) -> nn.Module:
    from transformers import AutoConfig, AutoModel  # lazy: see the module docstring

    settings = {k: v for k, v in hf_config.items() if k != "model_type"}
    return AutoModel.from_config(AutoConfig.for_model(hf_config["model_type"], **settings)).float()


# ----------------------------------------------------------------------------------------- front-end
class SSLFrontend(nn.Module):
    """SSL encoder + learned softmax-weighted sum of its hidden states: ``[B, T] -> [B, frames, hidden]``.

    Give ``ssl_path`` (load pretrained weights from a local directory) or ``ssl_config`` (build that
    architecture with random weights, e.g. to load an unmask checkpoint), not both.
    :meth:`pinned_config` returns the settings that rebuild this front-end without the directory.
    """

    def __init__(
        self,
        *,
        ssl_path: str | Path | None = None,
        ssl_config: dict[str, Any] | None = None,
        ssl_source: str | None = None,
        freeze_ssl: bool = True,
        freeze_feature_encoder: bool = True,
        layers: list[int] | None = None,
        normalise_layers: bool = True,
        input_norm: bool | None = None,
    ) -> None:
        super().__init__()
        if (ssl_path is None) == (ssl_config is None):
            raise ValueError(
                "ssl: give ssl_path (a local HF model directory: pretrained weights) or ssl_config (an "
                "HF config dict: random weights, e.g. restored from an unmask checkpoint), not "
                + ("both" if ssl_path is not None else "neither")
            )
        if ssl_path is not None:
            path = Path(ssl_path).expanduser()
            read_ssl_directory(path)
            if input_norm is None:
                input_norm = _input_norm_from_directory(path)
            self.model = _load_pretrained(path)
            ssl_source = str(path.resolve())
        else:
            if not isinstance(ssl_config, dict):
                raise ValueError(f"ssl: ssl_config must be a dict (an HF config), not {type(ssl_config)}")
            _check_model_type(ssl_config.get("model_type"), where="ssl_config")
            self.model = _build_from_config(ssl_config)
        # Plain JSON data: checkpoints are read with torch weights_only=True.
        self.hf_config: dict[str, Any] = json.loads(self.model.config.to_json_string())
        self.ssl_source = ssl_source
        self.input_norm = True if input_norm is None else bool(input_norm)
        self.normalise_layers = bool(normalise_layers)
        self.freeze_ssl = bool(freeze_ssl)
        self.freeze_feature_encoder = bool(freeze_feature_encoder)

        n_states = int(self.model.config.num_hidden_layers) + 1  # the CNN/embedding output, then each layer
        self.layers = self._resolve_layers(layers, n_states)
        self.layer_logits = nn.Parameter(torch.zeros(len(self.layers)))  # softmax: uniform at start
        self.hidden_size = int(self.model.config.hidden_size)

        if self.freeze_ssl:
            self.model.requires_grad_(False)
        elif self.freeze_feature_encoder:
            self.model.feature_extractor.requires_grad_(False)
        self.train()

    @staticmethod
    def _resolve_layers(layers: list[int] | None, n_states: int) -> list[int]:
        if layers is None:
            return list(range(n_states))
        if not layers:
            raise ValueError("ssl: layers is empty; give hidden-state indices or null for all")
        resolved = []
        for index in layers:
            if not -n_states <= int(index) < n_states:
                raise ValueError(
                    f"ssl: layer {index} does not exist; this model has hidden states 0..{n_states - 1}"
                )
            resolved.append(int(index) % n_states)
        return resolved

    def pinned_config(self) -> dict[str, Any]:
        """The front-end settings that rebuild this architecture without the original directory."""
        return {
            "ssl_path": None,
            "ssl_config": self.hf_config,
            "ssl_source": self.ssl_source,
            "input_norm": self.input_norm,
        }

    @property
    def layer_weights(self) -> torch.Tensor:
        """The weight of each hidden state in ``layers`` (non-negative, summing to 1)."""
        return torch.softmax(self.layer_logits, dim=0)

    def train(self, mode: bool = True) -> SSLFrontend:
        super().train(mode)
        if self.freeze_ssl:
            self.model.eval()  # a frozen encoder stays deterministic: no dropout, no SpecAugment masking
        return self

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave [B, T]`` at 16 kHz -> weighted hidden states ``[B, frames, hidden]`` (~50 frames/s)."""
        if self.input_norm:
            # As the HF feature extractor does (do_normalize): per utterance, over the whole window.
            mean = wave.mean(dim=-1, keepdim=True)
            var = wave.var(dim=-1, keepdim=True, correction=0)
            wave = (wave - mean) / torch.sqrt(var + 1e-7)
        with torch.no_grad() if self.freeze_ssl else nullcontext():
            hidden_states = self.model(wave, output_hidden_states=True).hidden_states
            stacked = torch.stack([hidden_states[i] for i in self.layers])  # [L, B, frames, hidden]
        if self.normalise_layers:
            stacked = F.layer_norm(stacked, stacked.shape[-1:])
        return torch.einsum("l,lbtd->btd", self.layer_weights, stacked)


def build_ssl_frontend(config: dict[str, Any]) -> SSLFrontend:
    """Build the front-end from a detector config (the keys of SSL_FRONTEND_DEFAULTS) and pin the config.

    ``config`` is updated in place so that it rebuilds the same architecture without the directory.
    """
    frontend = SSLFrontend(**{key: config[key] for key in SSL_FRONTEND_DEFAULTS})
    config.update(frontend.pinned_config())
    return frontend


# ------------------------------------------------------------------------------------------ pooling
class AttentiveStatsPooling(nn.Module):
    """``[B, frames, D] -> [B, 2D]``: attention-weighted mean and standard deviation over frames.

    Okabe et al., "Attentive statistics pooling for deep speaker embedding", Interspeech 2018: frames
    that carry the evidence (an artefact, a voiced region) get more weight than silence.
    """

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.attention(x), dim=1)  # [B, frames, 1]
        mean = (weights * x).sum(dim=1)
        variance = (weights * x.pow(2)).sum(dim=1) - mean.pow(2)
        return torch.cat([mean, variance.clamp_min(1e-6).sqrt()], dim=1)


class StatsPooling(nn.Module):
    """``[B, frames, D] -> [B, 2D]``: plain mean and standard deviation over frames."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=1), x.std(dim=1, correction=0)], dim=1)


def build_pooling(kind: str, dim: int) -> nn.Module:
    if kind == "attentive":
        return AttentiveStatsPooling(dim)
    if kind == "stats":
        return StatsPooling()
    raise ValueError(f"unknown pooling {kind!r}; choose 'attentive' or 'stats'")


# ----------------------------------------------------------------------------------------- back-ends
class PooledLinearBackend(nn.Module):
    """Per-frame projection, statistics pooling over frames, dropout and one linear layer -> logit."""

    def __init__(self, in_dim: int, proj_dim: int, pooling: str, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, proj_dim)
        self.pool = build_pooling(pooling, proj_dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * proj_dim, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.proj(feats))).squeeze(-1)


class SSLAasistBackend(GraphBackendMixin, nn.Module):
    """The AASIST graph back-end on an SSL feature map (Tak et al. 2022): ``[B, frames, D] -> [B]``.

    Differences from Tak et al.: spectral and temporal nodes are taken by the maximum over the other axis
    (as in AASIST) rather than by attentive pooling, and the output is one logit instead of two.
    """

    def __init__(
        self,
        in_dim: int,
        proj_dim: int,
        filts: list[list[int]],
        gat_dims: list[int],
        pool_ratios: list[float],
        temperatures: list[float],
    ) -> None:
        super().__init__()
        if proj_dim < 3:
            raise ValueError(f"ssl: proj_dim must be at least 3 for the AASIST back-end, got {proj_dim}")
        self.LL = nn.Linear(in_dim, proj_dim)  # the name in Tak et al.'s code
        self.first_bn = nn.BatchNorm2d(1)
        blocks = [
            ResidualBlock(c_in, c_out, first=i == 0, time_pool=1) for i, (c_in, c_out) in enumerate(filts)
        ]
        self.encoder = nn.Sequential(*blocks)
        # 3x3 max pooling leaves proj_dim // 3 bands; the (2x3) residual convolutions keep that size.
        self._build_graph_backend(filts[-1][1], proj_dim // 3, gat_dims, pool_ratios, temperatures)
        self.drop = nn.Dropout(0.5)
        self.out_layer = nn.Linear(5 * gat_dims[1], 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.shape[1] < 3:
            raise ValueError(f"ssl: the AASIST back-end needs at least 3 SSL frames, got {feats.shape[1]}")
        x = self.LL(feats).transpose(1, 2).unsqueeze(1)  # [B, 1, proj_dim, frames]
        x = F.selu(self.first_bn(F.max_pool2d(x, (3, 3))))
        return self.out_layer(self.drop(self.graph_readout(self.encoder(x)))).squeeze(-1)


# ------------------------------------------------------------------------------------------ detector
@register
class SSLDetector(DetectorModel):
    """Self-supervised speech encoder (wav2vec 2.0 / HuBERT / WavLM, local) + linear or AASIST back-end."""

    name: ClassVar[str] = "ssl"
    capabilities: ClassVar[Capabilities] = Capabilities(embedding=False, needs=("hf-directory",))

    @classmethod
    def example_config(cls, workdir: Path) -> dict[str, Any]:
        return {"ssl_config": dict(TINY_EXAMPLE_SSL)}
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": SSL_SAMPLE_RATE,
        "window_s": 4.0,
        **SSL_FRONTEND_DEFAULTS,
        "normalise_loudness": False,  # the SSL input normalisation already removes the level
        "backend": "linear",  # "linear" or "aasist"
        "proj_dim": 128,
        "pooling": "attentive",  # linear back-end: "attentive" or "stats"
        "dropout": 0.2,  # linear back-end
        # AASIST back-end (Tak et al. 2022): residual block widths (in, out), graph settings.
        "aasist_filts": [[1, 32], [32, 32], [32, 64], [64, 64], [64, 64], [64, 64]],
        "aasist_gat_dims": [64, 32],
        "aasist_pool_ratios": [0.5, 0.5, 0.5, 0.5],
        "aasist_temperatures": [2.0, 2.0, 100.0, 100.0],
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if self.sample_rate != SSL_SAMPLE_RATE:
            raise ValueError(
                f"ssl: SSL encoders take {SSL_SAMPLE_RATE} Hz audio; sample_rate is {self.sample_rate}"
            )
        if cfg["backend"] not in ("linear", "aasist"):
            raise ValueError(f"ssl: unknown backend {cfg['backend']!r}; choose 'linear' or 'aasist'")
        self.ssl = build_ssl_frontend(cfg)
        if cfg["backend"] == "linear":
            self.backend: nn.Module = PooledLinearBackend(
                self.ssl.hidden_size, cfg["proj_dim"], cfg["pooling"], cfg["dropout"]
            )
        else:
            self.backend = SSLAasistBackend(
                self.ssl.hidden_size,
                cfg["proj_dim"],
                cfg["aasist_filts"],
                cfg["aasist_gat_dims"],
                cfg["aasist_pool_ratios"],
                cfg["aasist_temperatures"],
            )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave [B, T]`` at 16 kHz -> logit ``[B]`` (> 0 means fake)."""
        if self.config["normalise_loudness"]:
            wave = normalise_loudness(wave)
        return self.backend(self.ssl(wave))
