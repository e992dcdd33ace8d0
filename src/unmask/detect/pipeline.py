"""The detection pipeline: media -> windows -> model logits -> calibrated file score + timeline.

``Detector`` is what users hold (``Detector.load("default").scan("clip.mp3")``); the neural network
inside it is a :class:`unmask.models.base.DetectorModel`. The split follows pyannote.audio's
Model / Pipeline: models map tensors to logits, the pipeline owns media, windows, calibration and
verdicts, so one model serves the CLI, the Python API and the HTTP service the same way.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unmask._device import module_device, resolve_device
from unmask.detect.aggregate import aggregate_logits
from unmask.detect.calibration import Calibrator
from unmask.detect.result import ScanResult, Thresholds, WindowScore
from unmask.errors import UnmaskError
from unmask.io import MediaLimits, array_windows, iter_windows, load_audio
from unmask.models.base import DetectorModel
from unmask.models.checkpoint import Checkpoint, load_checkpoint

# "lfcc-gmm" is the previous default (an LFCC-GMM ensemble, 2019-2022 demo pages only): kept for comparison
# and for fusion; see its card (`unmask models show lfcc-gmm`).
BUNDLED_MODELS = {"default": "default.pt", "lfcc-gmm": "lfcc-gmm.pt", "music": "music.pt"}
# The least audio (in total, and above the silence floor) a file must hold before it gets a verdict is the
# model's ``min_duration_s`` (part of the DetectorModel contract, 0.5 s unless a model needs more);
# ScanSettings.min_duration_s overrides it.
DEFAULT_MIN_DURATION_S = DetectorModel.min_duration_s
# Audible audio is counted in frames this long (a short frame above the floor among silence is a click).
AUDIBLE_FRAME_S = 0.02


@dataclass(frozen=True)
class ScanSettings:
    """Everything about *how* a file is scanned, independent of the model's weights."""

    window_s: float | None = None  # None: the model's own window length
    hop_s: float | None = None  # None: half a window
    aggregation: str = "softmax"
    temperature: float = 1.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    batch_size: int = 32
    # A batch also holds at most this much audio, so a model of long windows (music: 30 s) scores a few
    # at a time and a long file stays in bounded memory: 32 windows of 4 s, but 4 of 30 s.
    batch_audio_s: float = 128.0
    # Windows quieter than this carry no evidence either way; they are shown but not aggregated.
    silence_dbfs: float = -60.0
    limits: MediaLimits | None = None
    # A file shorter than this, or with less audio above silence_dbfs, is an error row, not a verdict.
    # None: the model's own ``min_duration_s`` (DetectorModel contract; 0.5 s by default).
    min_duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.window_s is not None and self.window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {self.window_s}")
        if self.hop_s is not None and self.hop_s <= 0:
            raise ValueError(f"hop_s must be > 0, got {self.hop_s}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (math.isfinite(self.batch_audio_s) and self.batch_audio_s > 0):
            raise ValueError(f"batch_audio_s must be > 0, got {self.batch_audio_s}")
        minimum = self.min_duration_s
        if minimum is not None and not (math.isfinite(minimum) and minimum >= 0):
            raise ValueError(f"min_duration_s must be >= 0, got {self.min_duration_s}")


@dataclass(frozen=True)
class Segment:
    """A stretch of a file to scan: ``start_s``..``end_s`` in seconds (None: the file's start, its end).

    ``Detector.scan_many`` takes these beside plain paths and decodes only the stretch, streamed like a
    whole file; the result's timeline keeps times from the file's start.
    """

    path: str | Path
    start_s: float | None = None
    end_s: float | None = None

    def __post_init__(self) -> None:
        start = self.offset_s
        if not (math.isfinite(start) and start >= 0):
            raise ValueError(f"{self.path}: a segment's start must be >= 0 s, got {self.start_s}")
        if self.end_s is not None and not (math.isfinite(self.end_s) and self.end_s > start):
            raise ValueError(f"{self.path}: a segment must end after it starts, got {start:g}-{self.end_s} s")

    @property
    def offset_s(self) -> float:
        return float(self.start_s or 0.0)

    @property
    def duration_s(self) -> float | None:
        return None if self.end_s is None else float(self.end_s) - self.offset_s


ScanItem = str | Path | Segment


@dataclass
class _Window:
    start_s: float
    end_s: float
    samples: np.ndarray | None  # released once scored, so a long file is held a few batches at a time
    silent: bool


@dataclass
class _FileState:
    path: str
    windows: list[_Window] = field(default_factory=list)
    logits: list[float] = field(default_factory=list)
    audible_s: float = 0.0  # audio above the silence floor, counted up to the minimum needed


def bundled_model_path(name: str) -> Path:
    return Path(str(resources.files("unmask") / "assets" / BUNDLED_MODELS[name]))


def resolve_model(name_or_path: str | Path) -> Path:
    """A bundled model name (e.g. ``default``) or a checkpoint path -> checkpoint path."""
    if str(name_or_path) in BUNDLED_MODELS:
        return bundled_model_path(str(name_or_path))
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise UnmaskError(
        f"unknown model {str(name_or_path)!r}",
        hint=f"use a bundled model ({', '.join(BUNDLED_MODELS)}), a .pt checkpoint or a .onnx export",
    )


RUNTIMES = ("auto", "torch", "onnx")


def resolve_runtime(runtime: str | None, path: Path) -> str:
    """``"torch"`` or ``"onnx"`` for a model file; None/``"auto"`` picks onnx for ``.onnx`` files."""
    name = (runtime or "auto").strip().lower()
    if name not in RUNTIMES:
        raise UnmaskError(f"unknown runtime {runtime!r}", hint=f"use one of {', '.join(RUNTIMES)}")
    is_onnx = path.suffix.lower() == ".onnx"
    if name == "auto":
        return "onnx" if is_onnx else "torch"
    if name == "torch" and is_onnx:
        raise UnmaskError(
            "an ONNX export is scored by onnxruntime, not torch", path=path, hint="use runtime onnx"
        )
    return name


class Detector:
    """A trained model + its calibration + scan settings: scores media files."""

    def __init__(
        self,
        model: DetectorModel,
        calibrator: Calibrator | None = None,
        *,
        name: str = "custom",
        version: str = "0",
        card: dict[str, Any] | None = None,
        settings: ScanSettings | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        # device None: where the model already is; "auto"/"cpu"/"cuda[:N]": moved there (unmask._device).
        self.device = module_device(model) if device is None else resolve_device(device)
        self.model = model.to(self.device).eval()
        self.calibrator = calibrator or Calibrator()
        self.name = name
        self.version = version
        self.card = card or {}
        self.settings = settings or ScanSettings()
        if self.hop_s > self.window_s:
            raise ValueError(f"hop ({self.hop_s} s) must not exceed the window ({self.window_s} s)")

    @classmethod
    def load(
        cls,
        model: str | Path = "default",
        *,
        device: str | torch.device | None = "auto",
        runtime: str | None = None,
        **settings: Any,
    ) -> Detector:
        """Load a bundled model by name, a checkpoint file or an ONNX export; keyword arguments override
        ScanSettings.

        ``device``: ``"auto"`` (a CUDA GPU if torch sees one, else the CPU), ``"cpu"``, ``"cuda[:N]"``;
        batches go there and logits come back to the CPU. CUDA asked for but missing is a ``DeviceError``.
        ``runtime``: ``"torch"``, ``"onnx"`` (onnxruntime on the CPU: an ``.onnx`` file from
        ``unmask models export``, or a checkpoint exported in memory first) or None/``"auto"`` (onnx for
        ``.onnx`` files, else torch). Both runtimes score through the same pipeline (docs/onnx.md).
        """
        target = resolve_device(device)  # before loading: a bad device fails fast
        path = resolve_model(model)
        chosen = resolve_runtime(runtime, path)
        if chosen == "onnx":
            from unmask.models.onnx_export import onnx_checkpoint

            auto = device is None or (isinstance(device, str) and device.strip().lower() == "auto")
            if target.type != "cpu" and not auto:
                raise UnmaskError(
                    f"the onnx runtime runs on the CPU, not {target}", hint="use --device cpu (or auto)"
                )
            target = torch.device("cpu")  # "auto" with the onnx runtime: the CPU
            ckpt: Checkpoint = onnx_checkpoint(path)
        else:
            ckpt = load_checkpoint(path)
        calibrator = Calibrator.from_dict(ckpt.calibration) if ckpt.calibration else Calibrator()
        name = str(model) if str(model) in BUNDLED_MODELS else path.stem
        return cls(
            ckpt.model,
            calibrator,
            name=name,
            version=ckpt.version,
            card=ckpt.card,
            settings=ScanSettings(**settings),
            device=target,
        )

    # ----------------------------------------------------------------- public API
    @property
    def window_s(self) -> float:
        return self.settings.window_s or float(self.model.config["window_s"])

    @property
    def architecture(self) -> str:
        """The registered name of the model class (``whisper-mlp``), beside the detector's own name."""
        return self.model.name

    @property
    def sample_rate(self) -> int:
        return int(self.model.sample_rate)

    @property
    def batch_windows(self) -> int:
        """Windows per model call: ``batch_size``, fewer when they would hold more than ``batch_audio_s``."""
        by_audio = int(self.settings.batch_audio_s // self.window_s)
        return max(1, min(self.settings.batch_size, by_audio))

    @property
    def hop_s(self) -> float:
        """The settings' hop, else the model's own (``hop_s`` in its config), else half a window."""
        if self.settings.hop_s:
            return self.settings.hop_s
        if self.settings.window_s is None and self.model.config.get("hop_s"):
            return float(self.model.config["hop_s"])
        return self.window_s / 2

    @property
    def min_duration_s(self) -> float:
        """The least audio, in total and above the silence floor, a file needs for a verdict."""
        if self.settings.min_duration_s is not None:
            return float(self.settings.min_duration_s)
        return float(self.model.min_duration_s)

    def with_settings(self, **changes: Any) -> Detector:
        return Detector(
            self.model,
            self.calibrator,
            name=self.name,
            version=self.version,
            card=self.card,
            settings=replace(self.settings, **changes),
            device=self.device,
        )

    def scan(self, path: ScanItem) -> ScanResult:
        """Score one file (or a :class:`Segment` of one). Unreadable media gives a result with
        ``verdict == "error"``, never an exception."""
        return next(iter(self.scan_many([path])))

    def scan_many(
        self, paths: Iterable[ScanItem], on_result: Callable[[ScanResult], None] | None = None
    ) -> Iterator[ScanResult]:
        """Score files (or :class:`Segment` s) in input order; decoding runs in a background thread while
        the model scores.

        Windows of consecutive files share batches, and at most a few batches are held in memory, so
        many short clips are scored efficiently and a long file is scored in constant memory.
        """
        items: queue.Queue = queue.Queue(maxsize=4 * self.batch_windows)
        stop = threading.Event()
        producer = threading.Thread(target=self._produce, args=(list(paths), items, stop), daemon=True)
        producer.start()
        try:
            for result in self._consume(items):
                if on_result:
                    on_result(result)
                yield result
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    items.get_nowait()
                except queue.Empty:
                    producer.join(timeout=0.05)

    def scan_segment(self, path: str | Path, start_s: float | None, end_s: float | None) -> ScanResult:
        """Score only ``start_s``..``end_s`` of a file (a manifest row with start/end), streamed; times in
        the timeline stay relative to the file's start."""
        return self.scan(Segment(path, start_s, end_s))

    def scan_waveform(self, wave: np.ndarray, sample_rate: int, name: str = "<waveform>") -> ScanResult:
        """Score an in-memory mono waveform that is already at the model's sample rate."""
        state = self._score_array(wave, sample_rate, name)
        return self._finish(state, duration_s=len(wave) / sample_rate)

    def waveform_logit(self, wave: np.ndarray, sample_rate: int) -> float | None:
        """The aggregated, uncalibrated file logit of a waveform (None when it is all silence)."""
        return self._file_logit(self._score_array(wave, sample_rate, "<waveform>"))

    @torch.inference_mode()
    def score_batch(self, windows: list[np.ndarray]) -> np.ndarray:
        """Raw logits for a list of windows; short windows are tiled to the model's window length."""
        target = self.model.window_samples
        batch = np.stack([tile_to(w, target) for w in windows])
        return _to_numpy(self.model(torch.from_numpy(batch).to(self.device)))

    # ----------------------------------------------------------------- internals
    def _produce(self, paths: list[ScanItem], items: queue.Queue, stop: threading.Event) -> None:
        def put(item: tuple) -> bool:
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        rate = self.model.sample_rate
        for index, item in enumerate(paths):
            segment = item if isinstance(item, Segment) else Segment(item)
            path, offset = segment.path, segment.offset_s
            try:
                end_s = 0.0
                audible = _AudibleCounter(rate, self.settings.silence_dbfs, self.min_duration_s)
                for win in iter_windows(
                    path,
                    self.window_s,
                    self.hop_s,
                    sample_rate=self.model.sample_rate,
                    start_s=offset,
                    duration_s=segment.duration_s,
                    limits=self.settings.limits,
                ):
                    end_s = max(end_s, win.end_s)
                    audible.add(win.samples, round(win.start_s * rate))
                    window = _Window(win.start_s + offset, win.end_s + offset, win.samples,
                                     self._is_silent(win.samples))
                    if not put(("window", index, str(path), window)):
                        return
                if not put(("end", index, str(path), (end_s, audible.seconds))):
                    return
            except UnmaskError as exc:
                if not put(("error", index, str(path), str(exc))):
                    return
            except Exception as exc:  # a bug or an unforeseen decoder failure: report it, keep going
                if not put(("error", index, str(path), f"{path}: unexpected error: {exc!r}")):
                    return
        put(("done", -1, "", None))

    def _consume(self, items: queue.Queue) -> Iterator[ScanResult]:
        states: dict[int, _FileState] = {}
        pending: list[tuple[int, _Window]] = []
        finished: list[tuple[str, int, Any]] = []
        batch = self.batch_windows
        while True:
            kind, index, path, payload = items.get()
            if kind == "window":
                states.setdefault(index, _FileState(path)).windows.append(payload)
                pending.append((index, payload))
            elif kind in ("end", "error"):
                finished.append((kind, index, payload))
                states.setdefault(index, _FileState(path))
            if pending and (len(pending) >= batch or kind == "done"):
                logits = self._score_windows(pending)
                for (i, window), logit in zip(pending, logits, strict=True):
                    states[i].logits.append(float(logit))
                    window.samples = None
                pending = []
            if not pending:  # every window before each marker is scored: those files are complete
                for marker_kind, i, info in finished:
                    state = states.pop(i)
                    if marker_kind == "error":
                        yield ScanResult.failed(state.path, info, model=self.name)
                    else:
                        duration_s, state.audible_s = info
                        yield self._finish(state, duration_s=duration_s)
                finished = []
            if kind == "done":
                return

    def _score_array(self, wave: np.ndarray, sample_rate: int, name: str) -> _FileState:
        if sample_rate != self.model.sample_rate:
            raise UnmaskError(
                f"waveform is {sample_rate} Hz but the model needs {self.model.sample_rate} Hz",
                path=name,
                hint="resample first, or scan the file instead",
            )
        state = _FileState(name)
        state.windows = [
            _Window(w.start_s, w.end_s, w.samples, self._is_silent(w.samples))
            for w in array_windows(np.asarray(wave, dtype=np.float32), self.window_s, self.hop_s, sample_rate)
        ]
        if state.windows:
            state.logits = list(self._score_windows([(0, w) for w in state.windows]))
        audible = _AudibleCounter(sample_rate, self.settings.silence_dbfs, self.min_duration_s)
        audible.add(np.asarray(wave, dtype=np.float32), 0)
        state.audible_s = audible.seconds
        return state

    @torch.inference_mode()
    def _score_windows(self, windows: list[tuple[int, _Window]]) -> np.ndarray:
        """Logits of ``(file index, window)`` pairs. For models that score strips, each run of
        consecutive full windows of one file goes in as one strip (see DetectorModel.score_strip); the
        rest (single windows, short and shifted tail windows) go in as a batch."""
        if not self.model.scores_strips:
            return self.score_batch([w.samples for _, w in windows])
        logits = np.empty(len(windows))
        loose: list[int] = []
        hop = round(self.hop_s * self.model.sample_rate)
        for run in _strip_runs(windows, self.model.window_samples, hop, self.model.sample_rate):
            if len(run) == 1:
                loose.extend(run)
                continue
            first = windows[run[0]][1].samples
            strip = np.concatenate([first] + [windows[i][1].samples[-hop:] for i in run[1:]])
            logits[run] = _to_numpy(self.model.score_strip(torch.from_numpy(strip).to(self.device), hop))
        if loose:
            logits[loose] = self.score_batch([windows[i][1].samples for i in loose])
        return logits

    def _file_logit(self, state: _FileState) -> float | None:
        audible = [logit for w, logit in zip(state.windows, state.logits, strict=True) if not w.silent]
        if not audible:
            return None
        return aggregate_logits(np.asarray(audible), self.settings.aggregation, self.settings.temperature)

    def _finish(self, state: _FileState, duration_s: float) -> ScanResult:
        if not state.windows:
            return ScanResult.failed(state.path, f"{state.path}: no audio samples decoded", model=self.name)
        needed = self.min_duration_s
        if duration_s < needed:
            return ScanResult.failed(
                state.path,
                f"{state.path}: too short to judge: {duration_s:.3f} s of audio, "
                f"at least {needed:g} s needed",
                model=self.name,
            )
        file_logit = self._file_logit(state)
        if file_logit is None:
            return ScanResult.failed(
                state.path,
                f"{state.path}: no audible content (every window is below {self.settings.silence_dbfs} dBFS)",
                model=self.name,
            )
        if state.audible_s < needed:
            return ScanResult.failed(
                state.path,
                f"{state.path}: too little audible audio to judge: {state.audible_s:.2f} s above "
                f"{self.settings.silence_dbfs:g} dBFS, at least {needed:g} s needed",
                model=self.name,
            )
        probability = float(self.calibrator(file_logit))
        logits = np.asarray(state.logits)
        window_probs = self.calibrator(logits)
        timeline = [
            WindowScore(round(w.start_s, 3), round(w.end_s, 3), float(p))
            for w, p in zip(state.windows, window_probs, strict=True)
        ]
        return ScanResult(
            path=state.path,
            fake_probability=probability,
            verdict=self.settings.thresholds.verdict(probability),
            model=self.name,
            model_version=self.version,
            duration_s=round(float(duration_s), 3),
            timeline=timeline,
        )

    def _is_silent(self, samples: np.ndarray) -> bool:
        # A float32 dot product (BLAS) is exact enough for a dB threshold and ~10x faster than squaring.
        rms = math.sqrt(float(np.dot(samples, samples)) / samples.size) if samples.size else 0.0
        return 20 * np.log10(rms + 1e-12) < self.settings.silence_dbfs


class _AudibleCounter:
    """Counts the samples of a file that lie in frames above the silence floor, each sample once
    (windows overlap), and stops counting once the minimum is reached: it costs O(minimum), not O(file)."""

    def __init__(self, sample_rate: int, silence_dbfs: float, needed_s: float) -> None:
        self.rate = sample_rate
        self.frame = max(1, round(AUDIBLE_FRAME_S * sample_rate))
        self.floor = 10.0 ** (silence_dbfs / 10)  # mean square at the floor
        self.needed = math.ceil(needed_s * sample_rate)
        self.count = 0
        self.covered = 0  # one past the last sample counted or skipped

    def add(self, samples: np.ndarray, start: int) -> None:
        new = samples[max(0, self.covered - start):]
        self.covered = max(self.covered, start + len(samples))
        if self.count >= self.needed or not new.size:
            return
        full = len(new) - len(new) % self.frame
        if full:
            frames = new[:full].reshape(-1, self.frame)
            power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / self.frame
            self.count += int(np.count_nonzero(power >= self.floor)) * self.frame
        rest = new[full:]
        if rest.size and float(np.dot(rest, rest)) / rest.size >= self.floor:
            self.count += rest.size

    @property
    def seconds(self) -> float:
        return self.count / self.rate


def _strip_runs(
    windows: list[tuple[int, _Window]], window: int, hop: int, sample_rate: int
) -> Iterator[list[int]]:
    """Positions in ``windows`` grouped into runs of full-length windows of one file, each starting
    ``hop`` samples after the previous one; anything else is a run of its own."""
    run: list[int] = []
    previous: tuple[int, int] | None = None  # (file index, start sample) of the last full window in run
    for position, (index, win) in enumerate(windows):
        start = round(win.start_s * sample_rate)
        full = len(win.samples) == window
        if run and full and previous == (index, start - hop):
            run.append(position)
        else:
            if run:
                yield run
            run = [position]
        previous = (index, start) if full else None
    if run:
        yield run


def _to_numpy(logits: torch.Tensor) -> np.ndarray:
    """Model output on any device -> float64 numpy on the CPU."""
    return logits.detach().to("cpu", torch.float64).numpy()


def load_segment(path: str | Path, sample_rate: int, start_s: float | None, end_s: float | None,
                 limits: MediaLimits | None) -> np.ndarray:
    """Samples ``start_s``..``end_s`` of a file (a manifest row's segment; None: its start or end)."""
    start = float(start_s or 0.0)
    duration = None if end_s is None else float(end_s) - start
    return load_audio(path, sample_rate, start_s=start, duration_s=duration, limits=limits)


def shift_times(items: list, offset_s: float) -> list:
    """Windows or parts scored on a segment, with times from the file's start instead of the segment's."""
    return [replace(x, start_s=round(x.start_s + offset_s, 3), end_s=round(x.end_s + offset_s, 3))
            for x in items]


def tile_to(samples: np.ndarray, length: int) -> np.ndarray:
    """Repeat a short window to ``length`` (as the official AASIST code does): padding with zeros
    would add silence the model never saw in training."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) >= length:
        return samples[:length]
    if len(samples) == 0:
        return np.zeros(length, dtype=np.float32)
    reps = int(np.ceil(length / len(samples)))
    return np.tile(samples, reps)[:length]
