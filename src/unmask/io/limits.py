"""Resource limits for decoding untrusted media."""

from __future__ import annotations

from dataclasses import dataclass

FOUR_HOURS_S = 4 * 3600.0
TWO_GIB = 2 * 1024**3


@dataclass(frozen=True)
class MediaLimits:
    """Refuse inputs that would cost too much to decode.

    ``max_duration_s`` bounds the audio decoded for one request (a slice counts only its own span); it is
    checked against the header before decoding and again while decoding, because a header can lie.
    ``max_bytes`` bounds the size of the input file on disk. ``None`` switches a limit off.
    """

    max_duration_s: float | None = FOUR_HOURS_S
    max_bytes: int | None = TWO_GIB

    def __post_init__(self) -> None:
        if self.max_duration_s is not None and self.max_duration_s <= 0:
            raise ValueError(f"max_duration_s must be positive or None, got {self.max_duration_s}")
        if self.max_bytes is not None and self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive or None, got {self.max_bytes}")


DEFAULT_LIMITS = MediaLimits()
NO_LIMITS = MediaLimits(max_duration_s=None, max_bytes=None)
