"""``--model auto``: each part of a file goes to the detector of its content, and the result says who judged
what.

The content classifier (:mod:`unmask.detect.content`) cuts the file into runs of speech, music, noise and
silence. Each speech run is scored by the speech detector, and each music run by the music detector,
each through its own ``Detector.scan_waveform``: the same windows, aggregation and calibration as a
one-model scan. Noise and silence carry no evidence either way and are not judged.

The file's ``fake_probability`` is the highest among its judged parts. A podcast is fake if its voice is
fake, even when its music bed is real, and a song is fake if its singing or its backing is. The
timeline holds every judged window, and ``parts`` says which model judged which stretch.

The file is decoded once, at the detectors' rate, in memory: about 230 MB per hour of audio. A one-model
scan stays the way to read very long files in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from unmask.detect.content import ContentClassifier, Part
from unmask.detect.pipeline import Detector, load_segment, shift_times
from unmask.detect.result import PartScore, ScanResult
from unmask.errors import UnmaskError
from unmask.io import load_audio

ROUTED = ("speech", "music")
# Settings that are about the file, not the windows: a routed scan passes them to every detector.
FILE_SETTINGS = ("limits", "thresholds")


def content_classifier_path() -> Path:
    """Where the bundled content classifier lives (also what a bench run's fingerprint reads)."""
    from importlib import resources

    return Path(str(resources.files("unmask") / "assets" / "content.npz"))


def bundled_content_classifier() -> ContentClassifier:
    path = content_classifier_path()
    if not path.is_file():
        raise UnmaskError("the content classifier is not installed (src/unmask/assets/content.npz)",
                          hint="scripts/train_content_classifier.py makes it")
    return ContentClassifier.load(path)


class RoutedDetector:
    """Speech parts to one Detector and music parts to another (see the module docstring)."""

    def __init__(self, detectors: dict[str, Detector], classifier: ContentClassifier) -> None:
        rates = {d.model.sample_rate for d in detectors.values()}
        if len(rates) != 1:
            raise UnmaskError(f"routed detectors must share one sample rate, got {sorted(rates)}")
        self.detectors = detectors
        self.classifier = classifier
        self.sample_rate = rates.pop()
        self.name = "auto"
        self.version = "+".join(f"{kind}={d.name}@{d.version}" for kind, d in detectors.items())
        if "speech" not in detectors:
            raise UnmaskError("a routed scan needs a speech detector")
        self.settings = next(iter(detectors.values())).settings

    @classmethod
    def load(cls, speech: str = "default", music: str | None = None, **settings: Any) -> RoutedDetector:
        """``music`` None: the bundled music detector (``music``, docs/music.md); ``"none"``: music parts
        are found and said, not judged."""
        device = settings.pop("device", "auto")
        runtime = settings.pop("runtime", None)
        if music is None:
            music = "music"
        models = {"speech": speech, "music": None if music == "none" else music}
        detectors = {kind: Detector.load(model, device=device, runtime=runtime, **settings)
                     for kind, model in models.items() if model is not None}
        return cls(detectors, bundled_content_classifier())

    def with_settings(self, **changes: Any) -> RoutedDetector:
        """File-level settings (``FILE_SETTINGS``: media limits, verdict thresholds) go to every routed
        detector. Windows do not: each keeps its own, since a window fit for speech (4 s) is not one for
        a song (30 s)."""
        given = sorted(k for k, v in changes.items() if v is not None and k not in FILE_SETTINGS)
        if given:
            raise UnmaskError(f"{', '.join(given)} cannot be set with --model auto: each detector it routes "
                              "to uses its own", hint="name one model (--model default|music|PATH) for that")
        shared = {k: v for k, v in changes.items() if k in FILE_SETTINGS and v is not None}
        if not shared:
            return self
        return RoutedDetector({kind: d.with_settings(**shared) for kind, d in self.detectors.items()},
                              self.classifier)

    # what the CLI and the service read off a detector
    @property
    def device(self) -> Any:
        return self.detectors["speech"].device

    @property
    def architecture(self) -> str:
        return "auto: " + ", ".join(f"{kind}={d.architecture}" for kind, d in self.detectors.items())

    @property
    def card(self) -> dict[str, Any]:
        """Each routed detector's card, by the content it judges."""
        return {kind: d.card for kind, d in self.detectors.items()}

    @property
    def window_s(self) -> float:
        return self.detectors["speech"].window_s

    @property
    def hop_s(self) -> float:
        return self.detectors["speech"].hop_s

    def scan(self, path: str | Path) -> ScanResult:
        try:
            wave = load_audio(path, self.sample_rate, limits=self.settings.limits)
        except UnmaskError as exc:
            return ScanResult.failed(str(path), str(exc), model=self.name)
        return self.scan_waveform(wave, self.sample_rate, name=str(path))

    def scan_many(self, paths: Iterable[str | Path]) -> Iterator[ScanResult]:
        for path in paths:
            yield self.scan(path)

    def scan_segment(self, path: str | Path, start_s: float | None, end_s: float | None) -> ScanResult:
        """Route only ``start_s``..``end_s`` of a file (a manifest row with start/end), as
        :meth:`Detector.scan_segment` does; parts and windows keep times from the file's start."""
        try:
            wave = load_segment(path, self.sample_rate, start_s, end_s, self.settings.limits)
        except UnmaskError as exc:
            return ScanResult.failed(str(path), str(exc), model=self.name)
        result = self.scan_waveform(wave, self.sample_rate, name=str(path))
        result.timeline = shift_times(result.timeline, float(start_s or 0.0))
        result.parts = shift_times(result.parts, float(start_s or 0.0))
        return result

    def scan_waveform(self, wave: np.ndarray, sample_rate: int, name: str = "<waveform>") -> ScanResult:
        if sample_rate != self.sample_rate:
            raise ValueError(f"expected {self.sample_rate} Hz audio, got {sample_rate} Hz")
        parts = [self._judge(part, wave) for part in self.classifier.parts(wave)]
        judged = [(part, result) for part, result in parts if result is not None and result.ok]
        scores = [p for p, _ in parts]
        duration = round(len(wave) / sample_rate, 3)
        if not judged:
            kinds = ", ".join(sorted({p.content for p in scores})) or "nothing"
            unjudged = sorted({p.content for p in scores if p.content in ROUTED} - set(self.detectors))
            missing = f"; no {' or '.join(unjudged)} detector is installed" if unjudged else ""
            reason = f"{name}: nothing here could be judged (found {kinds}{missing})"
            failed = ScanResult.failed(name, reason, model=self.name)
            return replace(failed, duration_s=duration, parts=scores)
        probability = max(result.fake_probability for _, result in judged)
        timeline = sorted((w for _, r in judged for w in r.timeline), key=lambda w: (w.start_s, w.end_s))
        thresholds = self.settings.thresholds
        return ScanResult(path=name, fake_probability=probability, verdict=thresholds.verdict(probability),
                          model=self.name, model_version=self.version, duration_s=duration, timeline=timeline,
                          parts=scores)

    def _judge(self, part: Part, wave: np.ndarray) -> tuple[PartScore, ScanResult | None]:
        detector = self.detectors.get(part.content) if part.content in ROUTED else None
        if detector is None:
            note = f"no {part.content} detector installed (docs/music.md)" if part.content in ROUTED else None
            return PartScore(part.start_s, part.end_s, part.content, note=note), None
        start = int(round(part.start_s * self.sample_rate))
        stop = int(round(part.end_s * self.sample_rate))
        result = detector.scan_waveform(wave[start:stop], self.sample_rate)
        result.timeline = shift_times(result.timeline, part.start_s)
        if not result.ok:  # e.g. too short for this model: said, not scored
            note = (result.error or "").removeprefix("<waveform>: ")
            return PartScore(part.start_s, part.end_s, part.content, detector.name, None, note), result
        score = PartScore(part.start_s, part.end_s, part.content, detector.name, result.fake_probability)
        return score, result
