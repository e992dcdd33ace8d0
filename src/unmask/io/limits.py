"""Resource limits for decoding untrusted media."""

from __future__ import annotations

from dataclasses import dataclass

FOUR_HOURS_S = 4 * 3600.0
TWO_GIB = 2 * 1024**3


@dataclass(frozen=True)
class MediaLimits:
    """Refuse inputs that would cost too much to decode, before anything is allocated for them.

    ``max_duration_s`` bounds the audio decoded for one request (a slice counts only its own span); it is
    checked against the header before decoding and again while decoding, because a header can lie.
    ``max_bytes`` bounds the size of the input file on disk (checked before it is opened).
    ``max_channels`` and ``min_sample_rate``/``max_sample_rate`` bound what the header (and every decoded
    frame, since formats can change mid-stream) may claim before a resampler is built for it: resampling
    cost grows with the rate ratio, so a 3 kB file claiming 1 Hz or 2 GHz would otherwise make swresample
    allocate hundreds of MB (1 Hz -> 16 kHz also multiplies the samples 16,000-fold). The defaults cover
    every real recording: telephone 8 kHz to 768 kHz studio masters, up to 64 channels.
    ``None`` switches a limit off.
    """

    max_duration_s: float | None = FOUR_HOURS_S
    max_bytes: int | None = TWO_GIB
    max_channels: int | None = 64
    min_sample_rate: int | None = 1_000
    max_sample_rate: int | None = 768_000

    def __post_init__(self) -> None:
        if self.max_duration_s is not None and self.max_duration_s <= 0:
            raise ValueError(f"max_duration_s must be positive or None, got {self.max_duration_s}")
        for name in ("max_bytes", "max_channels", "min_sample_rate", "max_sample_rate"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None, got {value}")
        low, high = self.min_sample_rate, self.max_sample_rate
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_sample_rate ({low}) must not exceed max_sample_rate ({high})")

    def stream_problem(self, sample_rate: int | None, channels: int | None) -> str | None:
        """Why audio at ``sample_rate`` with ``channels`` is refused, or None (unknown values pass)."""
        if sample_rate:
            if self.min_sample_rate is not None and sample_rate < self.min_sample_rate:
                return (f"sample rate of {sample_rate} Hz is below the {self.min_sample_rate} Hz limit "
                        "(no real recording is that slow: the header is damaged or forged)")
            if self.max_sample_rate is not None and sample_rate > self.max_sample_rate:
                return (f"sample rate of {sample_rate} Hz is over the {self.max_sample_rate} Hz limit "
                        "(the header is damaged or forged)")
        if channels and self.max_channels is not None and channels > self.max_channels:
            return f"{channels} channels, over the {self.max_channels}-channel limit"
        return None


DEFAULT_LIMITS = MediaLimits()
NO_LIMITS = MediaLimits(max_duration_s=None, max_bytes=None, max_channels=None, min_sample_rate=None,
                        max_sample_rate=None)
