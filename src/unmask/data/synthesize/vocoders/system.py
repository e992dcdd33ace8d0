"""Copy-synthesis through a trained neural vocoder or codec checkpoint (never retrains).

A directory of checkpoints (``<family>.pt``, as ``unmask data train-vocoders`` writes them) gives the
systems :func:`trained_systems` lists: one per vocoder family, and for the codec one per bitrate
(``codec-rvq-2``, ``codec-rvq-4``, ``codec-rvq-8``: 2, 4 or 8 quantiser stages).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unmask.data.synthesize.base import CopySystem, SynthesisError
from unmask.data.synthesize.vocoders.families import CODEC_SYSTEMS, FAMILIES
from unmask.data.synthesize.vocoders.generators import VocoderModel
from unmask.data.synthesize.vocoders.training import PEAK_LEVEL, load_vocoder
from unmask.errors import UnmaskError

CHECKPOINT_SUFFIX = ".pt"


def neural_system_names() -> list[str]:
    """Every system name a full checkpoint directory provides."""
    return [name for family in FAMILIES for name in _systems_of(family)]


# Systems that drive a checkpoint's decoder with a generated latent (``SnakeVAE.generate_like``): the
# latent's course blurred over this many frames, its detail replaced by noise.
GENERATIVE_SYSTEMS = {"snake-vae-gen": ("snake-vae", 2.0)}


def _systems_of(family: str) -> list[str]:
    if family == "codec-rvq":
        return list(CODEC_SYSTEMS)
    return [family, *(name for name, (of, _) in GENERATIVE_SYSTEMS.items() if of == family)]


def system_family(name: str) -> tuple[str, int | None]:
    """The checkpoint family behind a system name and the RVQ stages it uses (None: all / not a codec)."""
    if name in CODEC_SYSTEMS:
        return "codec-rvq", CODEC_SYSTEMS[name]
    if name in FAMILIES and name != "codec-rvq":
        return name, None
    if name in GENERATIVE_SYSTEMS:
        return GENERATIVE_SYSTEMS[name][0], None
    known = ", ".join(neural_system_names())
    raise ValueError(f"unknown neural copy-synthesis system {name!r}; known: {known}")


def checkpoint_path(vocoders_dir: str | Path, family: str) -> Path:
    return Path(vocoders_dir) / f"{family}{CHECKPOINT_SUFFIX}"


def trained_systems(vocoders_dir: str | Path) -> list[str]:
    """The system names whose checkpoint is in ``vocoders_dir`` (family order)."""
    return [name for family in FAMILIES if checkpoint_path(vocoders_dir, family).is_file()
            for name in _systems_of(family)]


@functools.lru_cache(maxsize=8)
def _cached_model(path: str, mtime_ns: int) -> tuple[VocoderModel, dict[str, Any]]:
    # One load per process and checkpoint version: the runner builds a system for every clip.
    return load_vocoder(path)


@dataclass(frozen=True)
class NeuralVocoderSystem(CopySystem):
    """Resynthesise through a trained checkpoint, in chunks of ``chunk_seconds`` with ``context_seconds`` of
    audio either side (cut away after), so memory is bounded and chunk seams are inaudible. Chunk starts are
    multiples of the model's hop, so a chunk's frames are the whole clip's frames."""

    name: str
    checkpoint: str
    n_q: int | None = None
    chunk_seconds: float = 8.0
    context_seconds: float = 0.5
    min_seconds: float = 0.1
    latent_blur_frames: float = 0.0  # > 0: a generated latent (GENERATIVE_SYSTEMS), not the encoder's

    def __post_init__(self) -> None:
        if self.chunk_seconds <= 0 or self.context_seconds < 0:
            raise ValueError("chunk_seconds must be > 0 and context_seconds >= 0")
        model, payload = self.model()
        if self.n_q is not None and payload["family"] != "codec-rvq":
            raise ValueError(f"{self.name}: n_q applies to the codec only, not {payload['family']}")
        if self.latent_blur_frames > 0 and not hasattr(model, "generate_like"):
            raise ValueError(f"{self.name}: {payload['family']} has no continuous latent to generate")
        if self.n_q is not None and not 1 <= self.n_q <= model.n_codebooks:
            raise ValueError(f"{self.name}: n_q must be in 1..{model.n_codebooks}, got {self.n_q}")

    @classmethod
    def from_directory(cls, name: str, vocoders_dir: str | Path, **settings: Any) -> NeuralVocoderSystem:
        """The system ``name`` (a family, or codec-rvq-N) from the checkpoints in ``vocoders_dir``."""
        family, n_q = system_family(name)
        path = checkpoint_path(vocoders_dir, family)
        if not path.is_file():
            raise SynthesisError(f"{name}: no trained checkpoint {path.name} in {vocoders_dir}", path=path,
                                 hint=f"train it: unmask data train-vocoders --families {family} "
                                      f"--real MANIFEST --out {vocoders_dir}")
        if name in GENERATIVE_SYSTEMS:
            settings.setdefault("latent_blur_frames", GENERATIVE_SYSTEMS[name][1])
        return cls(name=name, checkpoint=str(path), n_q=n_q, **settings)

    def model(self) -> tuple[VocoderModel, dict[str, Any]]:
        path = Path(self.checkpoint)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            raise SynthesisError(f"{self.name}: vocoder checkpoint not found", path=path) from None
        try:
            return _cached_model(str(path), mtime)
        except UnmaskError as exc:
            raise SynthesisError(f"{self.name}: {exc.reason}", path=path, hint=exc.hint) from None

    def _resynthesize(self, wave: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        model, _ = self.model()
        if sample_rate != model.sample_rate:
            raise SynthesisError(f"{self.name}: trained at {model.sample_rate} Hz, got {sample_rate} Hz",
                                 hint=f"resample to {model.sample_rate} Hz first")
        peak = float(np.max(np.abs(wave)))
        x = torch.from_numpy((wave * (PEAK_LEVEL / peak)).astype(np.float32))
        return self.rebuild(model, x, rng).numpy().astype(np.float64)

    @torch.no_grad()
    def rebuild(self, model: VocoderModel, wave: torch.Tensor,
                rng: np.random.Generator | None = None) -> torch.Tensor:
        """``wave`` [T] through ``model`` chunk by chunk; [T] out. ``rng`` seeds a generated latent."""
        generator = torch.Generator().manual_seed(int((rng or np.random.default_rng(0)).integers(2**62)))
        hop, total = model.hop, wave.numel()
        chunk = max(hop, int(self.chunk_seconds * model.sample_rate) // hop * hop)
        context = int(np.ceil(self.context_seconds * model.sample_rate / hop)) * hop
        pieces = []
        for start in range(0, total, chunk):
            end = min(start + chunk, total)
            left, right = max(0, start - context), min(total, end + context)
            piece = wave[left:right].unsqueeze(0)
            if self.latent_blur_frames > 0:
                out = model.generate_like(piece, self.latent_blur_frames, generator)
            else:
                out, _ = model.reconstruct(piece, self.n_q)
            pieces.append(out[0, start - left:end - left])
        return torch.cat(pieces)
