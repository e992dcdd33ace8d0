"""How to build a Detector: the flags of ``unmask scan`` / ``evaluate`` / ``serve`` as one value.

The local engine, the Ray actors (:mod:`unmask.engine.ray_engine`) and the service all build their
detector from a :class:`DetectorSpec`, so a model name, ``auto`` routing (speech and music parts to their
own detectors, :mod:`unmask.detect.routing`), thresholds and limits mean the same everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from unmask.detect.result import Thresholds

if TYPE_CHECKING:
    from unmask.detect.pipeline import Detector
    from unmask.detect.routing import RoutedDetector


@dataclass(frozen=True)
class DetectorSpec:
    """The arguments a Detector (or, with model ``auto``, a routed detector) is loaded with: by ``unmask
    scan`` and ``evaluate`` here, by each Ray actor, and by ``unmask serve``."""

    model: str = "default"
    device: str = "auto"
    runtime: str = "auto"
    real_below: float = 0.3
    fake_at_or_above: float = 0.7
    batch_size: int = 32
    max_duration_s: float | None = None
    window_s: float | None = None
    hop_s: float | None = None
    threads: int = 1  # torch threads per actor (and the CPUs each actor asks Ray for)
    name: str = ""  # the model's name in error rows made without a Detector; the driver's detector.name
    music_model: str | None = None  # with model "auto": the detector for music parts (None: not judged)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.model)

    def for_workers(self) -> DetectorSpec:
        """This spec with model files as absolute paths: a worker's working folder is not this one."""
        def absolute(model: str | None) -> str | None:
            return os.path.abspath(model) if model is not None and os.path.exists(model) else model

        return replace(self, model=absolute(self.model), music_model=absolute(self.music_model))

    def build(self) -> Detector | RoutedDetector:
        """The Detector, loaded as the local engine loads it (``unmask scan`` calls this too)."""
        from unmask.detect.pipeline import Detector
        from unmask.io import DEFAULT_LIMITS, MediaLimits

        limits = None
        if self.max_duration_s is not None:
            limits = MediaLimits(max_duration_s=self.max_duration_s, max_bytes=DEFAULT_LIMITS.max_bytes)
        thresholds = Thresholds(real_below=self.real_below, fake_at_or_above=self.fake_at_or_above)
        settings = {"device": self.device, "runtime": self.runtime, "batch_size": self.batch_size,
                    "limits": limits, "thresholds": thresholds}
        if self.model == "auto":  # speech and music parts to their own detectors (unmask.detect.routing)
            from unmask.detect.routing import RoutedDetector

            detector = RoutedDetector.load(music=self.music_model, **settings)
        else:
            detector = Detector.load(self.model, **settings)
        return detector.with_settings(window_s=self.window_s, hop_s=self.hop_s)
