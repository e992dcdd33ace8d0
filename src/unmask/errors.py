"""Typed errors that name the input, the reason and what to do about it.

Batch commands catch :class:`UnmaskError`, turn it into an error row and keep going, so every
message must make sense on its own, next to a file name, in a table.
"""

from __future__ import annotations

from pathlib import Path


class UnmaskError(Exception):
    """Base class of every error unmask raises on purpose."""

    def __init__(self, reason: str, *, path: str | Path | None = None, hint: str | None = None) -> None:
        self.reason = reason
        self.path = str(path) if path is not None else None
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.path}: {self.reason}" if self.path else self.reason
        if self.hint:
            text += f" ({self.hint})"
        return text


class MediaError(UnmaskError):
    """A media file cannot be read: missing, not media, no audio, empty, corrupt, or over a limit."""


class ManifestError(UnmaskError):
    """A manifest or corpus layout is malformed (missing column, bad label, unknown path...)."""


class MetricError(UnmaskError, ValueError):
    """Scores and labels cannot give the requested metric (one class only, NaN scores...)."""
