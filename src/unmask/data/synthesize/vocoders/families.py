"""The vocoder families: default model settings, their discriminators, and the model builder."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from unmask.data.synthesize.vocoders.codec import RVQCodec
from unmask.data.synthesize.vocoders.generators import (
    HiFiGANGenerator,
    ISTFTVocoder,
    StackedUpsampler,
    VocoderModel,
)
from unmask.data.synthesize.vocoders.vae import SnakeVAE

# family -> {"model": constructor settings, "discriminators": names}. Sizes are chosen for CPU training
# (a few hundred thousand parameters, about 1-3 training steps/s on 2 cores at batch 8 x 0.64 s).
FAMILIES: dict[str, dict[str, Any]] = {
    "melgan": {"model": {"channels": 128, "upsample_rates": [8, 8, 4], "dilations": [1, 3, 9]},
               "discriminators": ["msd"]},
    "hifigan": {"model": {"channels": 128, "upsample_rates": [8, 8, 2, 2], "resblock_kernels": [3, 7],
                          "resblock_dilations": [1, 3]},
                "discriminators": ["mpd"]},
    "upsample-conv": {"model": {"channels": 128, "upsample_rates": [8, 8, 4], "dilations": [1, 3, 9]},
                      "discriminators": ["msd"]},
    "subpixel": {"model": {"channels": 128, "upsample_rates": [8, 8, 4], "dilations": [1, 3, 9]},
                 "discriminators": ["msd"]},
    "istft": {"model": {"channels": 192, "blocks": 4}, "discriminators": ["mpd"]},
    "codec-rvq": {"model": {"channels": 16, "strides": [2, 4, 5, 8], "latent_dim": 64, "n_codebooks": 8,
                            "codebook_size": 256, "max_channels": 192},
                  "discriminators": ["msd"]},
    "snake-vae": {"model": {"channels": 16, "strides": [2, 4, 8, 8], "latent_dim": 32, "max_channels": 192,
                            "kl_weight": 1e-4},
                  "discriminators": ["msd"]},
}
# The codec's copy-synthesis systems: name -> RVQ stages used at inference (bitrate 0.8/1.6/3.2 kbit/s).
CODEC_SYSTEMS = {"codec-rvq-2": 2, "codec-rvq-4": 4, "codec-rvq-8": 8}
_UPSAMPLER = {"melgan": "transposed", "upsample-conv": "nearest", "subpixel": "subpixel"}


def family_names() -> list[str]:
    return list(FAMILIES)


def default_config(family: str, **model_overrides: Any) -> dict[str, Any]:
    """The family's config (``{"family", "model", "discriminators"}``), model settings overridden."""
    if family not in FAMILIES:
        raise ValueError(f"unknown vocoder family {family!r}; known: {', '.join(FAMILIES)}")
    config = deepcopy(FAMILIES[family])
    config["model"].update(model_overrides)
    return {"family": family, **config}


def build_model(config: dict[str, Any]) -> VocoderModel:
    """The generator (vocoder or codec) a config describes; weights freshly initialised."""
    family = config["family"]
    settings = {key: tuple(value) if isinstance(value, list) else value
                for key, value in config["model"].items()}
    if family in _UPSAMPLER:
        return StackedUpsampler(upsampler=_UPSAMPLER[family], **settings)
    if family == "hifigan":
        return HiFiGANGenerator(**settings)
    if family == "istft":
        return ISTFTVocoder(**settings)
    if family == "codec-rvq":
        return RVQCodec(**settings)
    if family == "snake-vae":
        return SnakeVAE(**settings)
    raise ValueError(f"unknown vocoder family {family!r}; known: {', '.join(FAMILIES)}")
