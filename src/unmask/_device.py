"""Where models run: the one place that turns ``auto``/``cpu``/``cuda`` into a ``torch.device``.

Every entry point (``Detector``, the trainer, ``unmask scan/evaluate/train/bench --device``) resolves its
device here, so they agree on what ``auto`` means and all fail the same way when CUDA is asked for but
missing. ``auto`` is the first CUDA GPU when torch sees one, else the CPU. Scores always come back to the
CPU as numpy arrays; only the model and its input batches live on the device.
"""

from __future__ import annotations

import torch
from torch import nn

from unmask.errors import UnmaskError

DEVICE_CHOICES = ("auto", "cpu", "cuda")
DEVICE_HELP = "Where the model runs: auto (a CUDA GPU if torch sees one, else the CPU), cpu, cuda or cuda:N."


class DeviceError(UnmaskError, ValueError):
    """The requested device is unknown or not available on this machine."""


def cuda_available() -> bool:
    return torch.cuda.is_available()


def resolve_device(requested: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device`` -> a usable device.

    Raises :class:`DeviceError` for an unknown name, or for CUDA when torch sees no GPU (or not GPU ``N``).
    """
    if requested is None:
        requested = "auto"
    if isinstance(requested, str):
        name = requested.strip().lower()
        if name == "auto":
            return torch.device("cuda") if cuda_available() else torch.device("cpu")
        try:
            device = torch.device(name)
        except (RuntimeError, ValueError):
            device = None
        if device is None or device.type not in ("cpu", "cuda"):
            raise DeviceError(
                f"unknown device {requested!r}", hint=f"use {', '.join(DEVICE_CHOICES)} or cuda:N"
            )
    elif isinstance(requested, torch.device):
        device = requested
    else:
        raise DeviceError(f"a device is a name or a torch.device, got {type(requested).__name__}")
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise DeviceError(f"unsupported device {str(device)!r}", hint=f"use {', '.join(DEVICE_CHOICES)}")
    if not cuda_available():
        build = torch.version.cuda
        why = "this torch build has no CUDA support" if build is None else "torch sees no CUDA GPU"
        raise DeviceError(
            f"CUDA was requested but is not available ({why}; torch {torch.__version__})",
            hint="use --device cpu (or auto), or install a CUDA build of torch on a machine with a GPU",
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise DeviceError(
            f"CUDA device {device.index} requested but torch sees {count} GPU(s)",
            hint=f"use cuda:0..cuda:{count - 1}" if count else "use --device cpu",
        )
    return device


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for a module that holds no tensors)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
