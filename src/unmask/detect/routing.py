"""``--model auto``: each part of a file goes to the detector of its content, and the result says who judged
what.

The content classifier (:mod:`unmask.detect.content`) cuts the file into runs of speech, music, noise and
silence. Each speech run is scored by the speech detector, and each music run by the music detector,
each through that detector's own scan: the same windows, aggregation and calibration as a
one-model scan. Noise and silence next to speech join the speech part (the speech detector skips silent
windows itself, and noise in a call is mostly speech on a bad line), so a speech file routed gets the
score a one-model scan gives it. Other noise and silence carry no evidence either way and are not judged.

A file in which no part can be judged by its own detector is judged whole by the speech detector, as a
one-model scan would judge it, and its one part says why. Such files are mostly noisy speech on a bad
line (heard as noise), or a short clip heard as music that is too short for the music model. A speech
user loses no verdict when routing is the default. Two exceptions: a file that is all silence stays an
error row, and so does music when the music detector was left out on purpose (``--music-model none``).

The file's ``fake_probability`` is the highest among its judged parts. A podcast is fake if its voice is
fake, even when its music bed is real, and a song is fake if its singing or its backing is. The
timeline holds every judged window, and ``parts`` says which model judged which stretch.

A file is streamed twice: once to label its seconds, then once per judged part through that detector's
streamed scan. Memory does not grow with the file's length. A file that cannot seek to the sample (MP3,
Ogg) is decoded once: the content pass writes its audio to a temporary float WAV, which the parts read.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from unmask.detect import content
from unmask.detect.content import ContentClassifier, Part
from unmask.detect.pipeline import Detector, Segment, shift_times
from unmask.detect.result import PartScore, ScanResult
from unmask.errors import UnmaskError
from unmask.io import iter_chunks, probe_audio
from unmask.io.decode import SEEK_ACCURATE_FORMATS

ROUTED = ("speech", "music")
# Settings that are about the file, not the windows: a routed scan passes them to every detector.
FILE_SETTINGS = ("limits", "thresholds")
# The content pass decodes this much at a time (whole seconds: the classifier's frames are 1 s).
CHUNK_S = 10.0


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

    def scan(self, path: str | Path | Segment) -> ScanResult:
        if isinstance(path, Segment):
            return self.scan_segment(path.path, path.start_s, path.end_s)
        return self.scan_segment(path, None, None)

    def scan_many(self, paths: Iterable[str | Path | Segment]) -> Iterator[ScanResult]:
        for path in paths:
            yield self.scan(path)

    def scan_segment(self, path: str | Path, start_s: float | None, end_s: float | None) -> ScanResult:
        """Route ``start_s``..``end_s`` of a file (None: its start, its end), streamed. The file is read
        once to find its parts (a label per second is all that is kept), then once more per judged part
        through that detector's own streamed scan, so memory does not grow with the file's length. Parts
        and windows keep times from the file's start."""
        segment = Segment(path, start_s, end_s)
        with contextlib.ExitStack() as scratch:
            try:
                chunks = iter_chunks(path, content.RATE, CHUNK_S, start_s=segment.offset_s,
                                     duration_s=segment.duration_s, limits=self.settings.limits)
                spool = None
                if self._needs_spool(path):
                    spool = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="unmask-route-")))
                    spool = spool / "decoded.wav"
                    chunks = _spooled(chunks, spool, content.RATE)
                found, duration = self.classifier.parts_of_chunks(chunks)
            except UnmaskError as exc:
                return ScanResult.failed(str(path), str(exc), model=self.name)
            except Exception as exc:  # a bug or a decoder failure: an error row, the batch goes on
                return ScanResult.failed(str(path), f"{path}: unexpected error: {exc!r}", model=self.name)

            def judge(detector: Detector, part: Part) -> ScanResult:
                if spool is None:
                    return detector.scan(Segment(path, part.start_s, part.end_s))
                offset = segment.offset_s  # the spool holds the stretch routed, from its start
                result = detector.scan(Segment(spool, part.start_s - offset, part.end_s - offset))
                error = result.error.replace(str(spool), str(path)) if result.error else result.error
                return replace(result, path=str(path), error=error,
                               timeline=shift_times(result.timeline, offset))

            return self._route(shift_times(speech_with_its_pauses(found), segment.offset_s), segment.offset_s,
                               duration, str(path), judge)

    def _needs_spool(self, path: str | Path) -> bool:
        """True when the parts' scans should read the decoded audio from a spool, not the file again.

        A container that cannot seek to the sample (MP3, ADTS AAC, Ogg, Matroska: those not in
        ``SEEK_ACCURATE_FORMATS``) is decoded from its start for every slice, so each part of a podcast
        would decode the file up to that part again. Its audio is written once, at the detectors' rate, to
        a float WAV that seeks exactly, while the content pass reads it. The parts then score the very
        samples they would have from the file."""
        return self.sample_rate == content.RATE and probe_audio(path).container not in SEEK_ACCURATE_FORMATS

    def scan_waveform(self, wave: np.ndarray, sample_rate: int, name: str = "<waveform>") -> ScanResult:
        """Route an in-memory waveform at the detectors' rate (the service's uploads, tests)."""
        if sample_rate != self.sample_rate:
            raise ValueError(f"expected {self.sample_rate} Hz audio, got {sample_rate} Hz")

        def judge(detector: Detector, part: Part) -> ScanResult:
            start = int(round(part.start_s * sample_rate))
            stop = int(round(part.end_s * sample_rate))
            result = detector.scan_waveform(wave[start:stop], sample_rate)
            result.timeline = shift_times(result.timeline, part.start_s)
            return result

        return self._route(speech_with_its_pauses(self.classifier.parts(wave)), 0.0, len(wave) / sample_rate,
                           name, judge)

    def _route(self, found: list[Part], offset_s: float, duration_s: float, name: str,
               judge: Callable[[Detector, Part], ScanResult]) -> ScanResult:
        """Judge each found part (times from the file's start); the stretch routed starts at ``offset_s``
        and lasts ``duration_s``."""
        parts = [self._judge(part, judge) for part in found]
        judged = [result for _, result in parts if result is not None and result.ok]
        scores = [p for p, _ in parts]
        duration = round(duration_s, 3)
        if not judged and not self._left_unjudged_by_choice(scores):
            return self._judge_whole_as_speech(scores, offset_s, duration, name, judge)
        if not judged:
            kinds = ", ".join(sorted({p.content for p in scores})) or "nothing"
            unjudged = sorted({p.content for p in scores if p.content in ROUTED} - set(self.detectors))
            missing = f"; no {' or '.join(unjudged)} detector is installed" if unjudged else ""
            reason = f"{name}: nothing here could be judged (found {kinds}{missing})"
            failed = ScanResult.failed(name, reason, model=self.name)
            return replace(failed, duration_s=duration, parts=scores)
        probability = max(result.fake_probability for result in judged)
        timeline = sorted((w for r in judged for w in r.timeline), key=lambda w: (w.start_s, w.end_s))
        return self._result(name, probability, duration, timeline, scores)

    def _left_unjudged_by_choice(self, scores: list[PartScore]) -> bool:
        """True when some part holds a routed content whose detector was left out (``--music-model none``):
        that content is found and said, not judged by another detector instead."""
        return any(p.content in ROUTED and p.content not in self.detectors for p in scores)

    def _judge_whole_as_speech(self, scores: list[PartScore], offset_s: float, duration: float, name: str,
                               judge: Callable[[Detector, Part], ScanResult]) -> ScanResult:
        """No part could be judged by its own detector: the classifier heard only noise (most often noisy
        speech on a bad line), or a music part is too short for the music model. The speech detector then
        judges the whole file, as a one-model scan would, and the one part says why. A file that is all
        silence stays an error row (the speech detector's own)."""
        why = "; ".join(f"{p.content} {p.start_s:g}-{p.end_s:g} s" + (f" ({p.note})" if p.note else "")
                        for p in scores)
        detector = self.detectors["speech"]
        whole = Part(offset_s, offset_s + duration, _dominant_content(scores))  # the stretch routed
        result = judge(detector, whole)
        note = f"judged whole by the speech detector: no part could be judged by its own ({why})"
        if not result.ok:
            failed = ScanResult.failed(name, result.error or f"{name}: nothing here could be judged",
                                       model=self.name)
            return replace(failed, duration_s=duration, parts=scores)
        part = PartScore(whole.start_s, whole.end_s, whole.content, detector.name, result.fake_probability,
                         note)
        return self._result(name, result.fake_probability, duration, result.timeline, [part])

    def _result(self, name: str, probability: float, duration: float, timeline: list,
                parts: list[PartScore]) -> ScanResult:
        return ScanResult(path=name, fake_probability=probability,
                          verdict=self.settings.thresholds.verdict(probability), model=self.name,
                          model_version=self.version, duration_s=duration, timeline=timeline, parts=parts)

    def _judge(self, part: Part, judge: Callable[[Detector, Part], ScanResult]
               ) -> tuple[PartScore, ScanResult | None]:
        detector = self.detectors.get(part.content) if part.content in ROUTED else None
        if detector is None:
            note = f"no {part.content} detector installed (docs/music.md)" if part.content in ROUTED else None
            return PartScore(part.start_s, part.end_s, part.content, note=note), None
        result = judge(detector, part)
        if not result.ok:  # e.g. too short for this model: said, not scored
            note = (result.error or "").removeprefix(f"{result.path}: ")
            return PartScore(part.start_s, part.end_s, part.content, detector.name, None, note), result
        score = PartScore(part.start_s, part.end_s, part.content, detector.name, result.fake_probability)
        return score, result


def _spooled(chunks: Iterable[np.ndarray], path: Path, sample_rate: int) -> Iterator[np.ndarray]:
    """Pass ``chunks`` on, writing them to ``path`` (32-bit float WAV: the samples, bit for bit)."""
    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype="FLOAT", format="WAV") as out:
        for chunk in chunks:
            out.write(chunk)
            yield chunk


def speech_with_its_pauses(parts: list[Part]) -> list[Part]:
    """Noise and silence next to speech join that speech part: a run of parts that holds no music and
    some speech becomes one speech part.

    Why: the speech detector skips silent windows itself, and noise in a call is mostly speech on a bad
    line, so cutting them out only moves its windows. Kept whole, a speech file routed gets the score
    a one-model scan gives it. Noise and silence between music parts, or in a file without speech,
    stay parts of their own (not judged)."""
    merged: list[Part] = []
    run: list[Part] = []

    def close_run() -> None:
        if any(p.content == "speech" for p in run):
            merged.append(Part(run[0].start_s, run[-1].end_s, "speech"))
        else:
            merged.extend(run)
        run.clear()

    for part in parts:
        if part.content == "music":
            close_run()
            merged.append(part)
        else:
            run.append(part)
    close_run()
    return merged


def _dominant_content(scores: list[PartScore]) -> str:
    """The content that fills most of the file (what a part covering all of it holds, mostly)."""
    totals: dict[str, float] = {}
    for p in scores:
        totals[p.content] = totals.get(p.content, 0.0) + p.end_s - p.start_s
    return max(totals, key=totals.get) if totals else "noise"
