"""One checkpoint file per model: weights, config, label convention, calibration and model card.

Saved with ``torch.save`` and read with ``weights_only=True``: the payload holds only tensors and
plain Python types, so loading a checkpoint from the internet cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unmask._fs import atomic_path
from unmask.errors import UnmaskError
from unmask.models.base import LABEL_CONVENTION, DetectorModel
from unmask.models.registry import build_model

FORMAT = "unmask-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    model: DetectorModel
    calibration: dict[str, Any] | None = None
    card: dict[str, Any] = field(default_factory=dict)
    version: str = "0"


def _plain(value: Any) -> Any:
    """JSON fallback: numpy scalars/arrays become Python numbers/lists, anything else its text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def plain_data(data: Any) -> Any:
    """Only plain types survive ``weights_only`` loading: pass card and calibration through JSON."""
    return json.loads(json.dumps(data, default=_plain))


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write atomically: a crash mid-write never leaves a truncated checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": ckpt.model.name,
        "config": ckpt.model.config,
        "state_dict": ckpt.model.state_dict(),
        "label_convention": LABEL_CONVENTION,
        "calibration": plain_data(ckpt.calibration),
        "card": plain_data(ckpt.card),
        "version": ckpt.version,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise UnmaskError("checkpoint not found", path=path, hint="give a model name or a .pt file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise UnmaskError(f"not an unmask checkpoint ({exc.__class__.__name__})", path=path) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UnmaskError("not an unmask checkpoint (missing format tag)", path=path)
    if payload["format_version"] > FORMAT_VERSION:
        raise UnmaskError(
            f"checkpoint format {payload['format_version']} is newer than this unmask understands",
            path=path,
            hint="upgrade unmask",
        )
    try:
        model = build_model(payload["detector"], payload["config"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise UnmaskError(
            f"checkpoint does not fit detector {payload.get('detector')!r} ({str(exc).splitlines()[0]})",
            path=path,
            hint="it was saved by an incompatible unmask version; retrain or re-export it",
        ) from exc
    model.eval()
    return Checkpoint(
        model, payload.get("calibration"), payload.get("card") or {}, payload.get("version", "0")
    )
