"""Batch recipes: copy-synthesis of a manifest's real clips, and TTS of a list of texts.

Both write FLAC files plus ``manifest.csv`` under the output folder and are

* resumable: an output file that already exists is kept, not recomputed (files are written atomically, so an
  existing file is a complete one), and rows of an earlier run for other systems stay in the manifest;
* deterministic: every (system, clip) draws from its own generator seeded by ``seed``, the system name and
  the clip's name, so the result does not depend on the order or the number of workers;
* honest about failures: a clip that cannot be read or resynthesised becomes a :class:`SynthesisFailure`
  (also written to ``failures.csv``) and the run goes on; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from unmask.data.manifest import Manifest, read_manifest
from unmask.data.synthesize.systems import copy_system_names, get_copy_system
from unmask.data.synthesize.tts import TtsVoice, available_voices
from unmask.data.synthesize.vocoders.system import neural_system_names, trained_systems
from unmask.errors import UnmaskError
from unmask.io import load_audio, save_audio

MANIFEST_NAME = "manifest.csv"
FAILURES_NAME = "failures.csv"
# The DSP systems the "vocoders" recipe adds to the trained neural ones (one per DSP family).
VOCODER_RECIPE_DSP_SYSTEMS = ("world", "griffinlim", "lpc")
# Metadata copied from a real clip to its fake twin: same speaker, words and channel.
# "song": a copy of a song must stay on its side of a split (the music pool's leakage unit).
_COPIED_COLUMNS = ("source", "speaker", "language", "domain", "split", "song")


@dataclass(frozen=True)
class SynthesisFailure:
    """One input that produced no output: the clip (or text), the system (None: the input itself) and why."""

    item: str
    system: str | None
    reason: str


@dataclass
class ItemOutcome:
    """What happened to one clip or text, reported to the progress callback as soon as it is done."""

    item: str
    computed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failures: list[SynthesisFailure] = field(default_factory=list)


@dataclass
class SynthesisResult:
    """The written manifest (every output of this run, plus earlier rows still on disk) and the failures."""

    manifest: Manifest
    manifest_path: Path
    failures: list[SynthesisFailure]
    computed: int
    reused: int


ProgressCallback = Callable[[ItemOutcome], None]


def item_rng(seed: int, system: str, item: str) -> np.random.Generator:
    """The generator for one (system, item): independent of run order and worker count."""
    return np.random.default_rng([seed, zlib.crc32(system.encode()), zlib.crc32(item.encode())])


# -- copy synthesis --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CopyJob:
    key: str
    source: str
    start_s: float
    duration_s: float | None
    outputs: dict[str, str]  # system -> output path
    sample_rate: int
    seed: int
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # system -> get_copy_system settings


def vocoder_recipe_systems(vocoders_dir: str | Path) -> list[str]:
    """The "vocoders" recipe: every system trained in ``vocoders_dir`` plus world, griffinlim and lpc."""
    trained = trained_systems(vocoders_dir)
    if not trained:
        raise UnmaskError("no trained vocoder checkpoints (<family>.pt) in this folder", path=vocoders_dir,
                          hint="train them: unmask data train-vocoders --real MANIFEST --out DIR")
    return [*trained, *VOCODER_RECIPE_DSP_SYSTEMS]


def synthesize_copy(
    real_manifest: Manifest | str | Path,
    out_dir: str | Path,
    systems: Sequence[str] | None = None,
    *,
    sample_rate: int = 16000,
    seed: int = 0,
    workers: int = 2,
    limit: int | None = None,
    on_item: ProgressCallback | None = None,
    vocoders: str | Path | None = None,
) -> SynthesisResult:
    """Resynthesise every real clip of ``real_manifest`` through each copy system into ``out_dir``.

    Outputs go to ``out_dir/<system>/<the clip's path relative to its manifest>.flac``; the manifest
    ``out_dir/manifest.csv`` has ``label=fake``, ``system``, ``recipe=copy-synthesis``, ``real_twin`` (the
    original's absolute path) and the original's source/speaker/language/domain/split. ``systems`` defaults
    to all of :data:`COPY_SYSTEMS`; ``limit`` keeps the first N real clips; ``workers`` > 1 runs a process
    pool. ``vocoders`` is the folder of trained checkpoints the neural systems (melgan, hifigan, ...,
    codec-rvq-N) load from.
    """
    manifest = read_manifest(real_manifest) if isinstance(real_manifest, str | Path) else real_manifest
    names = list(systems) if systems else copy_system_names()
    neural = set(neural_system_names())
    settings = {name: {"vocoders_dir": str(vocoders)} for name in names if name in neural and vocoders}
    for name in names:
        get_copy_system(name, **settings.get(name, {}))  # unknown names, missing weights fail now
    out_dir = Path(os.path.abspath(out_dir))
    real = manifest.filter(label="real")
    if limit is not None:
        real = real.filter(lambda row: row.index < limit)
    keys = _clip_keys(real)
    jobs = []
    for row, key in zip(real, keys, strict=True):
        duration = (row.end - (row.start or 0.0)) if row.end is not None else None
        outputs = {name: str(out_dir / name / key) for name in names}
        jobs.append(_CopyJob(key, str(row.path), row.start or 0.0, duration, outputs, sample_rate, seed,
                             settings))
    outcomes = _run(_copy_clip, jobs, workers, on_item)
    copied = {column: real.column(column) for column in _COPIED_COLUMNS if column in real.columns}
    records = []
    for row, job in zip(real, jobs, strict=True):
        for name, output in job.outputs.items():
            if Path(output).is_file():
                record: dict[str, Any] = {"path": output, "label": "fake", "system": name}
                record.update({column: cells[row.index] for column, cells in copied.items()})
                record.update({"real_twin": str(row.path), "recipe": "copy-synthesis"})
                records.append(record)
    return _finish(records, outcomes, out_dir)


def _clip_keys(real: Manifest) -> list[str]:
    """Output names: the clip's manifest path (made safe) with a .flac suffix; segments get their times."""
    keys = []
    for row, text in zip(real, real.frame["path"], strict=True):
        relative = PurePosixPath(text.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts:
            digest = hashlib.sha1(text.encode()).hexdigest()[:10]
            relative = PurePosixPath("_outside", f"{digest}_{relative.name}")
        stem = relative.with_suffix("").as_posix()
        if row.start is not None or row.end is not None:
            stem += f"_{row.start or 0.0:.3f}-{'' if row.end is None else f'{row.end:.3f}'}"
        keys.append(stem + ".flac")
    if len(set(keys)) != len(keys):
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        raise UnmaskError(f"the real manifest lists a clip more than once: {', '.join(duplicated[:3])}",
                          path=real.origin, hint="remove the duplicate rows")
    return keys


def _copy_clip(job: _CopyJob) -> ItemOutcome:
    outcome = ItemOutcome(job.key)
    pending = {name: path for name, path in job.outputs.items() if not Path(path).is_file()}
    outcome.reused = [name for name in job.outputs if name not in pending]
    if not pending:
        return outcome
    try:
        wave = load_audio(job.source, job.sample_rate, start_s=job.start_s, duration_s=job.duration_s)
    except UnmaskError as exc:
        outcome.failures.append(SynthesisFailure(job.source, None, f"unreadable: {exc}"))
        return outcome
    for name, path in pending.items():
        try:
            rng = item_rng(job.seed, name, job.key)
            system = get_copy_system(name, **job.settings.get(name, {}))
            fake = system.resynthesize(wave, job.sample_rate, rng)
            save_audio(path, fake, job.sample_rate)
        except (UnmaskError, ValueError, RuntimeError, MemoryError, OSError) as exc:
            outcome.failures.append(SynthesisFailure(job.source, name, f"{type(exc).__name__}: {exc}"))
        else:
            outcome.computed.append(name)
    return outcome


# -- TTS --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _TtsJob:
    key: str
    voice: TtsVoice
    text: str
    output: str
    sample_rate: int
    seed: int


def synthesize_tts(
    texts: Iterable[str],
    out_dir: str | Path,
    engines: Sequence[str] | None = None,
    *,
    sample_rate: int = 16000,
    seed: int = 0,
    workers: int = 2,
    on_item: ProgressCallback | None = None,
) -> SynthesisResult:
    """Every available voice of ``engines`` (default: every installed engine) speaks every text.

    Outputs go to ``out_dir/<engine>/<voice>/<text index>.flac``; manifest rows have ``label=fake``,
    ``system=<engine>/<voice>``, ``source=tts-<engine>``, ``speaker=<voice>``, ``language=en``,
    ``domain=speech``, ``text``
    and ``recipe=tts``. An engine asked for by name but not installed raises SynthesisError naming its
    Debian packages.
    """
    sentences = [t.strip() for t in texts if t.strip()]
    if not sentences:
        raise UnmaskError("no texts to speak", hint="give at least one non-empty sentence")
    voices = available_voices(list(engines) if engines else None)
    if not voices:
        raise UnmaskError("no TTS engine is installed",
                          hint="apt-get install espeak-ng flite festival festvox-kallpc16k")
    out_dir = Path(os.path.abspath(out_dir))
    jobs = [_TtsJob(f"{voice.system}#{i:04d}", voice, text,
                    str(out_dir / voice.engine / voice.slug / f"{i:04d}.flac"), sample_rate, seed)
            for voice in voices for i, text in enumerate(sentences)]
    outcomes = _run(_speak, jobs, workers, on_item)
    records = [{"path": job.output, "label": "fake", "system": job.voice.system,
                "source": f"tts-{job.voice.engine}", "speaker": job.voice.voice, "language": "en",
                "domain": "speech",
                "text": job.text, "recipe": "tts"}
               for job in jobs if Path(job.output).is_file()]
    return _finish(records, outcomes, out_dir)


def _speak(job: _TtsJob) -> ItemOutcome:
    outcome = ItemOutcome(job.key)
    if Path(job.output).is_file():
        outcome.reused.append(job.voice.system)
        return outcome
    try:
        wave = job.voice.speak(job.text, item_rng(job.seed, job.voice.system, job.key), job.sample_rate)
        save_audio(job.output, wave, job.sample_rate)
    except (UnmaskError, ValueError, OSError) as exc:
        outcome.failures.append(SynthesisFailure(job.key, job.voice.system, str(exc)))
    else:
        outcome.computed.append(job.voice.system)
    return outcome


# -- shared -----------------------------------------------------------------------------------------------
def _init_worker() -> None:
    # Each worker is one process on a shared machine: one thread each, or torch takes every core per worker.
    import torch

    torch.set_num_threads(1)


def _run(fn: Callable[[Any], ItemOutcome], jobs: list[Any], workers: int,
         on_item: ProgressCallback | None) -> list[ItemOutcome]:
    """``fn`` over ``jobs`` (in-process for one worker, else a spawn process pool), results in job order."""
    if workers <= 1 or len(jobs) <= 1:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small FFTs: extra threads only contend (measured 3-5x slower with 2)
        try:
            outcomes = []
            for job in jobs:
                outcomes.append(fn(job))
                if on_item:
                    on_item(outcomes[-1])
        finally:
            torch.set_num_threads(threads)
        return outcomes
    context = multiprocessing.get_context("spawn")  # fork after torch threads start can deadlock
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        outcomes = []
        for outcome in pool.map(fn, jobs, chunksize=1):
            outcomes.append(outcome)
            if on_item:
                on_item(outcome)
    return outcomes


def _finish(records: list[dict[str, Any]], outcomes: list[ItemOutcome], out_dir: Path) -> SynthesisResult:
    """Merge with the rows of an earlier run still on disk, write the manifest and the failure list."""
    manifest_path = out_dir / MANIFEST_NAME
    if manifest_path.is_file():
        new_paths = {os.path.abspath(r["path"]) for r in records}
        earlier = read_manifest(manifest_path)
        for i, path in enumerate(earlier.abs_paths()):
            if str(path) not in new_paths and path.is_file():
                records.append({**earlier.frame.iloc[i].to_dict(), "path": str(path)})
    manifest = Manifest.from_records(records, out_dir)
    manifest.write(manifest_path)
    failures = [f for outcome in outcomes for f in outcome.failures]
    failures_path = out_dir / FAILURES_NAME
    if failures:
        with failures_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["item", "system", "reason"])
            writer.writerows([f.item, f.system or "", f.reason] for f in failures)
    else:
        failures_path.unlink(missing_ok=True)
    return SynthesisResult(
        manifest=read_manifest(manifest_path), manifest_path=manifest_path, failures=failures,
        computed=sum(len(o.computed) for o in outcomes), reused=sum(len(o.reused) for o in outcomes),
    )
