"""ScanResult: the one type the CLI, the Python API, the HTTP API and reports all serialise."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

VERDICTS = ("real", "uncertain", "fake", "error")


# The columns of ScanResult.to_row() with their types in Arrow's names: the Parquet outputs of both engines
# share them, so an all-empty column is still typed (tests/detect check the keys against to_row()).
ROW_ARROW_TYPES: dict[str, str] = {
    "path": "string", "fake_probability": "float64", "verdict": "string", "model": "string",
    "duration_s": "float64", "n_windows": "int64", "peak_window_start_s": "float64",
    "peak_window_end_s": "float64", "peak_window_fake_probability": "float64", "error": "string",
}


def arrow_schema(types: dict[str, str]) -> Any:
    """A ``pyarrow.schema`` from ``{column: Arrow type name}`` (e.g. :data:`ROW_ARROW_TYPES`)."""
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in types.items()])


@dataclass(frozen=True)
class Thresholds:
    """Map a calibrated ``fake_probability`` to a verdict.

    ``p < real_below`` -> real, ``p >= fake_at_or_above`` -> fake, anything between -> uncertain.
    The defaults leave a band around 0.5 where the model is not confident enough to act on.
    """

    real_below: float = 0.3
    fake_at_or_above: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 <= self.real_below <= self.fake_at_or_above <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= real_below ({self.real_below}) <= "
                f"fake_at_or_above ({self.fake_at_or_above}) <= 1"
            )

    def verdict(self, fake_probability: float) -> str:
        if fake_probability >= self.fake_at_or_above:
            return "fake"
        if fake_probability < self.real_below:
            return "real"
        return "uncertain"


@dataclass(frozen=True)
class WindowScore:
    """Score of one analysis window of the input, in seconds from its start."""

    start_s: float
    end_s: float
    fake_probability: float


@dataclass(frozen=True)
class PartScore:
    """One stretch of a routed scan (``--model auto``): what it holds and which model judged it.

    ``content`` is "speech", "music", "noise" or "silence". Noise and silence parts are not judged:
    their ``model`` and ``fake_probability`` are None. A part too short for its model carries that
    model's reason in ``note`` and no score."""

    start_s: float
    end_s: float
    content: str
    model: str | None = None
    fake_probability: float | None = None
    note: str | None = None


@dataclass
class ScanResult:
    """The verdict on one input, or the reason it could not be scanned."""

    path: str
    fake_probability: float | None = None
    verdict: str = "error"
    model: str | None = None
    model_version: str | None = None
    duration_s: float | None = None
    timeline: list[WindowScore] = field(default_factory=list)
    error: str | None = None
    attribution: dict[str, float] | None = None
    explanation: dict[str, Any] | None = None
    parts: list[PartScore] = field(default_factory=list)  # routed scans only (unmask.detect.routing)

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, path: str, error: str, model: str | None = None) -> ScanResult:
        return cls(path=path, verdict="error", error=error, model=model)

    def most_suspicious_window(self) -> WindowScore | None:
        return max(self.timeline, key=lambda w: w.fake_probability, default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_row(self) -> dict[str, Any]:
        """Flat form for CSV: the timeline collapses to its most suspicious window."""
        worst = self.most_suspicious_window()
        return {
            "path": self.path,
            "fake_probability": self.fake_probability,
            "verdict": self.verdict,
            "model": self.model,
            "duration_s": self.duration_s,
            "n_windows": len(self.timeline),
            "peak_window_start_s": worst.start_s if worst else None,
            "peak_window_end_s": worst.end_s if worst else None,
            "peak_window_fake_probability": worst.fake_probability if worst else None,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        data = dict(data)
        data["timeline"] = [WindowScore(**w) for w in data.get("timeline") or []]
        data["parts"] = [PartScore(**p) for p in data.get("parts") or []]
        return cls(**data)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        p = self.fake_probability
        if p is not None and not (0.0 <= p <= 1.0 and math.isfinite(p)):
            raise ValueError(f"fake_probability must be in [0, 1], got {p}")
