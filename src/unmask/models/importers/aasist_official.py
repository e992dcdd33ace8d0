"""Import the authors' AASIST / AASIST-L releases (clovaai/aasist: a ``.pth`` state dict + a ``.conf``).

The ``.conf`` is JSON whose ``model_config`` holds the architecture arguments; the ``.pth`` is a plain
``torch.save(model.state_dict())``. :class:`unmask.models.aasist.AASIST` uses the official parameter
names, so the weights map one to one; the only rewrite is dropping the ``module.`` prefix that
``nn.DataParallel`` adds when a model is saved from it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from unmask._fs import file_sha256
from unmask.errors import UnmaskError
from unmask.models.aasist import AASIST, AASISTL
from unmask.models.checkpoint import Checkpoint

SAMPLE_RATE = 16000  # the official data loader reads 16 kHz ASVspoof FLAC files
ARCHITECTURE_KEYS = ("first_conv", "filts", "gat_dims", "pool_ratios", "temperatures")
_LISTED = 8  # key names shown in an error message before "... and N more"


def import_official_aasist(pth_path: str | Path, conf_path: str | Path) -> Checkpoint:
    """Build an unmask checkpoint from the official AASIST weights (``.pth``) and config (``.conf``).

    The detector is ``aasist-l`` when the architecture arguments equal AASIST-L's, else ``aasist``.
    Every weight must match by name and shape; anything missing, extra or mis-shaped raises an
    :class:`UnmaskError` that names the keys.
    """
    pth_path, conf_path = Path(pth_path), Path(conf_path)
    model_config = read_model_config(conf_path)
    detector = _detector_class(model_config)
    try:
        model = detector(_unmask_config(model_config))
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise UnmaskError(
            f"model_config does not describe a buildable AASIST ({exc})", path=conf_path
        ) from exc
    state = read_state_dict(pth_path)
    check_state_dict(state, model.state_dict(), pth_path)
    model.load_state_dict(state, strict=True)
    model.eval()
    digest = file_sha256(pth_path)
    card = _card(detector, pth_path, conf_path, digest)
    calibration = {"method": "platt", "scale": 1.0, "bias": 0.0}  # identity: the network's own softmax
    return Checkpoint(model, calibration, card, version=f"official-{digest[:12]}")


def read_model_config(conf_path: Path) -> dict[str, Any]:
    """The ``model_config`` object of an official ``.conf`` file, checked to be an AASIST one."""
    if not conf_path.is_file():
        raise UnmaskError(
            "config file not found", path=conf_path, hint="give the .conf released with the weights"
        )
    try:
        conf = json.loads(conf_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnmaskError(f"not a JSON .conf file ({exc})", path=conf_path) from exc
    model_config = conf.get("model_config") if isinstance(conf, dict) else None
    if not isinstance(model_config, dict):
        raise UnmaskError("no 'model_config' object in the config", path=conf_path)
    architecture = model_config.get("architecture")
    if architecture != "AASIST":
        raise UnmaskError(
            f"architecture {architecture!r} is not supported",
            path=conf_path,
            hint="only AASIST and AASIST-L configs ('architecture': 'AASIST') can be imported",
        )
    known = {"architecture", "nb_samp", *ARCHITECTURE_KEYS}
    unknown = sorted(set(model_config) - known)
    missing = sorted(known - set(model_config))
    if unknown or missing:
        raise UnmaskError(
            f"model_config keys differ from AASIST's: missing {missing or 'none'}, "
            f"unknown {unknown or 'none'}",
            path=conf_path,
        )
    return model_config


def read_state_dict(pth_path: Path) -> dict[str, torch.Tensor]:
    """Load a ``.pth`` state dict safely (tensors only, on the CPU); strip a DataParallel prefix."""
    if not pth_path.is_file():
        raise UnmaskError(
            "weights file not found", path=pth_path, hint="give the .pth released with the .conf"
        )
    try:
        # The released files were saved from a GPU: map them to the CPU.
        state = torch.load(pth_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise UnmaskError(f"cannot read weights ({exc.__class__.__name__})", path=pth_path) from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnmaskError("not a state dict (expected a mapping of names to tensors)", path=pth_path)
    if state and all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return dict(state)


def check_state_dict(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], pth_path: Path
) -> None:
    """Raise an :class:`UnmaskError` naming every missing, unexpected or mis-shaped weight."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = sorted(
        f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        for key in set(state) & set(expected)
        if state[key].shape != expected[key].shape
    )
    problems = [
        f"{label} ({len(keys)}): {_listing(keys)}"
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches (file vs config)", mis_shaped),
        )
        if keys
    ]
    if problems:
        raise UnmaskError(
            "weights do not fit the config: " + "; ".join(problems),
            path=pth_path,
            hint="use the .conf released with these weights",
        )


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LISTED])
    return shown + (f" ... and {len(keys) - _LISTED} more" if len(keys) > _LISTED else "")


def _unmask_config(model_config: dict[str, Any]) -> dict[str, Any]:
    nb_samp = int(model_config["nb_samp"])
    return {
        "sample_rate": SAMPLE_RATE,
        "window_s": nb_samp / SAMPLE_RATE,
        "nb_samp": nb_samp,
        **{key: model_config[key] for key in ARCHITECTURE_KEYS},
    }


def _detector_class(model_config: dict[str, Any]) -> type[AASIST]:
    light = all(model_config[key] == AASISTL.default_config[key] for key in ARCHITECTURE_KEYS)
    return AASISTL if light else AASIST


def _card(detector: type[AASIST], pth_path: Path, conf_path: Path, digest: str) -> dict[str, Any]:
    variant = "AASIST-L" if detector is AASISTL else "AASIST"
    paper_eer = "0.99%" if detector is AASISTL else "0.83%"  # Jung et al. 2022, ASVspoof 2019 LA eval
    return {
        "summary": (
            f"{variant} (Jung et al., ICASSP 2022): raw-waveform sinc front-end, residual encoder and "
            "spectro-temporal heterogeneous graph attention. Official pretrained weights by the authors "
            "(clovaai/aasist), imported unchanged."
        ),
        "training_data": (
            "ASVspoof 2019 LA train partition (VCTK speakers; 6 TTS/VC spoofing systems), trained by the "
            "authors. Not trained or calibrated by unmask."
        ),
        "licence": "MIT (clovaai/aasist code and weights, Copyright (c) 2021-present NAVER Corp.).",
        "intended_use": "Research baseline and comparison for speech anti-spoofing; a verdict to review.",
        "input_convention": (
            "Mono 16 kHz float waveform, 64,600-sample windows (4.04 s); a shorter clip is repeated "
            "(tiled) to 64,600 samples, not zero-padded. No loudness normalisation."
        ),
        "label_convention": (
            "unmask logit = logit_spoof - logit_bonafide of the official output (index 0 spoof, "
            "1 bona fide); > 0 means fake."
        ),
        "calibration_method": (
            "none: fake_probability is the network's own softmax spoof probability, fitted to ASVspoof "
            "2019 LA with a class-weighted loss; refit a calibration on your data before trusting it."
        ),
        "failure_modes": (
            "Trained on one 2019 corpus of clean read English speech: other generators, channels, codecs, "
            f"noise and languages are out of distribution; its reported {paper_eer} EER (ASVspoof 2019 LA "
            "evaluation set) is in-domain only."
        ),
        "source": {
            "repository": "https://github.com/clovaai/aasist",
            "weights_file": pth_path.name,
            "weights_sha256": digest,
            "config_file": conf_path.name,
        },
    }
