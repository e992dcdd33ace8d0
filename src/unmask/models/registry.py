"""Name -> detector class. Each detector file registers itself with :func:`register`."""

from __future__ import annotations

import importlib
from typing import Any

from unmask.models.base import DetectorModel

_REGISTRY: dict[str, type[DetectorModel]] = {}

# Modules imported on first lookup, so `import unmask.models` stays cheap.
_DETECTOR_MODULES = (
    "unmask.models.lcnn",
    "unmask.models.aasist",
    "unmask.models.lfcc_gmm",
    "unmask.models.rawnet2",
    "unmask.models.ssl",
    "unmask.models.fusion",
    "unmask.models.whisper_mlp",
    "unmask.models.embedding_mlp",
    "unmask.models.score_fusion",
    "unmask.models.spectttra",
    "unmask.models.artifact_spectrum",
)


def register(cls: type[DetectorModel]) -> type[DetectorModel]:
    """Class decorator: make ``cls`` buildable by its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"detector name {cls.name!r} is already registered by {_REGISTRY[cls.name]}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    for module in _DETECTOR_MODULES:
        importlib.import_module(module)


def available_models() -> dict[str, type[DetectorModel]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def build_model(name: str, config: dict[str, Any] | None = None) -> DetectorModel:
    models = available_models()
    if name not in models:
        raise KeyError(f"unknown detector {name!r}; available: {', '.join(models)}")
    return models[name](config)
