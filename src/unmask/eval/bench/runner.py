"""Run a bench: detectors x splits x (clean + corruption x severity) cells, each stored when done.

Every cell decodes its test clips (each clip once per worker process: decoded waves are cached),
corrupts them deterministically (seed = config seed + the clip's number in its dataset, so every
detector hears the same corrupted audio), scores them with :meth:`Detector.scan_waveform`, and
computes metrics with :mod:`unmask.eval.metrics`. The main process alone writes to the store, one
transaction per cell; cells already ``done`` are skipped, so an interrupted bench resumes where it
stopped. A cell that raises is stored as ``failed`` with its error and the others go on.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unmask import __version__
from unmask._fs import atomic_path
from unmask.data.manifest import Manifest, read_manifest
from unmask.errors import UnmaskError
from unmask.eval.bench.config import BenchConfig, DetectorSpec, check_corruptions
from unmask.eval.bench.store import CLEAN, CellKey, CellResult, ResultStore, default_url
from unmask.eval.protocols import (
    Split,
    cross_dataset,
    in_domain,
    leave_one_group_out,
    sample_per_group,
    split_slug,
    test_only,
)

if TYPE_CHECKING:
    from unmask.engine.ray_engine import RayOptions

WAVE_CACHE_BYTES = 512 * 1024 * 1024  # per worker: decoded clips kept for the next cell


@dataclass(frozen=True)
class Clip:
    number: int  # position in its dataset (after filters and sampling): the corruption seed offset
    path: str
    label: str
    start: float | None
    end: float | None
    groups: dict[str, str]


@dataclass(frozen=True)
class CellTask:
    key: CellKey
    detector: DetectorSpec
    clips: tuple[Clip, ...]
    seed: int
    crop_s: float | None
    group_by: tuple[str, ...]
    device: str = "cpu"  # where the detector runs ("cpu", "cuda", "cuda:N"; resolved by run_bench)


@dataclass
class BenchOutcome:
    run: str
    store_url: str
    run_dir: Path
    planned: int
    skipped: int  # already done before this invocation
    computed: list[CellKey] = field(default_factory=list)
    failed: list[tuple[CellKey, str]] = field(default_factory=list)
    failed_clips: int = 0
    remaining: int = 0  # left for a later invocation (max_cells)


def load_dataset(spec: Any) -> Manifest:
    """A dataset spec -> its manifest after filters and per-group sampling."""
    manifest = read_manifest(spec.manifest)
    if spec.filters:
        filters = {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in spec.filters.items()}
        manifest = manifest.filter(**filters)
    if spec.sample:
        manifest = sample_per_group(manifest, spec.sample["per"], spec.sample["n"], spec.sample["seed"])
    if len(manifest) == 0:
        raise UnmaskError(f"dataset {spec.name!r} is empty after filters/sampling", path=spec.manifest)
    return manifest


def expand_splits(config: BenchConfig, datasets: dict[str, Manifest]) -> list[tuple[Split, str]]:
    """Every (split, dataset name of its test side) the config's protocols produce, names unique."""
    splits: list[tuple[Split, str]] = []
    for spec in config.protocols:
        p = spec.params
        if spec.type == "test_only":
            made = [(test_only(datasets[p["dataset"]], name=p.get("name", p["dataset"])), p["dataset"])]
        elif spec.type == "in_domain":
            split = in_domain(
                datasets[p["dataset"]],
                test_fraction=float(p.get("test_fraction", 0.3)),
                seed=int(p.get("seed", config.seed)),
                group_column=p.get("group_column"),
                name=p.get("name", f"{p['dataset']}:in_domain"),
            )
            made = [(split, p["dataset"])]
        elif spec.type == "cross_dataset":
            name = p.get("name", f"{p['train']}->{p['test']}")
            made = [(cross_dataset(datasets[p["train"]], datasets[p["test"]], name=name), p["test"])]
        else:
            made = [
                (split, p["dataset"])
                for split in leave_one_group_out(
                    datasets[p["dataset"]],
                    p["column"],
                    reals=p.get("reals", "group"),
                    groups=p.get("groups"),
                    name_prefix=p.get("name", f"{p['dataset']}:logo-{p['column']}"),
                )
            ]
        splits.extend(made)
    names = [s.name for s, _ in splits]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UnmaskError(
            f"bench config gives two splits the name {duplicated[0]!r}",
            path=config.source,
            hint="set a distinct 'name' on the protocols",
        )
    return splits


def plan_cells(config: BenchConfig, splits: list[tuple[Split, str]]) -> list[tuple[CellKey, str]]:
    """(cell key, protocol) for every detector x split x (clean + corruption x severity)."""
    conditions = [(CLEAN, 0), *check_corruptions(config)]
    return [
        (CellKey(det.name, split.name, corruption, severity), split.protocol)
        for det in config.detectors
        for split, _ in splits
        for corruption, severity in conditions
    ]


def run_bench(
    config: BenchConfig,
    *,
    run_dir: str | Path | None = None,
    store_url: str | None = None,
    workers: int = 1,
    max_cells: int | None = None,
    log: Callable[[str], None] = print,
    device: str = "auto",
    engine: str = "local",
    ray_options: RayOptions | None = None,
) -> BenchOutcome:
    """Compute every cell of ``config`` that is not done yet; returns what happened.

    ``max_cells`` stops after that many cells (the rest stay pending for the next call). ``device``:
    where the detectors run (``auto``, ``cpu``, ``cuda[:N]``; see :mod:`unmask._device`). ``engine``
    ``"ray"`` runs each cell as a Ray task (``ray_options``: an ``unmask.engine.ray_engine.RayOptions``;
    ``workers`` 0 there means one task per CPU of the cluster); this process still writes the store.
    """
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be local or ray, got {engine!r}")
    if workers < (0 if engine == "ray" else 1):
        raise ValueError(f"workers must be >= {0 if engine == 'ray' else 1}, got {workers}")
    from unmask._device import resolve_device

    # On Ray the device is the workers' (a GPU node's "cuda" need not exist here): passed on as given.
    target = device if engine == "ray" else str(resolve_device(device))
    run_path = Path(run_dir or config.out_dir or Path("runs") / config.name).resolve()
    run_path.mkdir(parents=True, exist_ok=True)
    url = store_url or default_url(run_path)
    datasets = {name: load_dataset(spec) for name, spec in config.datasets.items()}
    for name, manifest in datasets.items():
        missing = [c for c in config.group_by if c not in manifest.columns]
        if missing:
            raise UnmaskError(
                f"group_by column(s) {', '.join(missing)} not in dataset {name!r}",
                path=manifest.origin,
                hint=f"columns: {', '.join(manifest.columns)}",
            )
    splits = expand_splits(config, datasets)
    _write_run_files(config, run_path, splits)
    planned = plan_cells(config, splits)

    store = ResultStore(url)
    try:
        run_id = store.open_run(config.name, config.fingerprint(), _config_record(config), __version__)
        store.ensure_cells(run_id, planned)
        statuses = store.cell_statuses(run_id)
        todo = [key for key, _ in planned if statuses.get(key) != "done"]
        outcome = BenchOutcome(config.name, store.safe_url, run_path, len(planned), len(planned) - len(todo))
        if max_cells is not None:
            outcome.remaining = max(0, len(todo) - max_cells)
            todo = todo[:max_cells]
        log(
            f"run {config.name}: {len(planned)} cells, {outcome.skipped} already done, {len(todo)} to compute"
        )
        clips = {
            split.name: _split_clips(split, datasets[dataset], config.group_by) for split, dataset in splits
        }
        detectors = {d.name: d for d in config.detectors}
        tasks = [
            CellTask(
                key,
                detectors[key.detector],
                clips[key.split],
                config.seed,
                config.crop_s,
                tuple(config.group_by),
                target,
            )
            for key in todo
        ]
        mark = lambda key: store.mark_running(run_id, key)  # noqa: E731 - the store stays in this process
        if engine == "ray":
            results = _execute_on_ray(tasks, workers, mark, ray_options)
        else:
            results = _execute(tasks, workers, mark)
        for result in results:
            store.save_result(run_id, result)
            outcome.computed.append(result.key)
            failed_clips = sum(1 for s in result.scores if s.get("error"))
            outcome.failed_clips += failed_clips
            if result.error:
                outcome.failed.append((result.key, result.error))
                log(f"FAILED {_describe(result.key)}: {result.error.splitlines()[0]}")
            else:
                pooled = next(m for m in result.metrics if m["grouping"] == "(all)")
                log(
                    f"done {_describe(result.key)}: EER {pooled['eer']:.4f} on {pooled['n']} clips"
                    + (f", {failed_clips} clip(s) failed" if failed_clips else "")
                    + f" ({result.seconds:.1f} s)"
                )
        return outcome
    finally:
        store.close()


def _describe(key: CellKey) -> str:
    condition = "clean" if key.corruption == CLEAN else f"{key.corruption}@{key.severity}"
    return f"{key.detector} / {key.split} / {condition}"


def _execute(tasks: list[CellTask], workers: int, on_start: Callable[[CellKey], None]):
    """Yield each task's CellResult as it finishes: in this process for 1 worker, else a process pool
    with one torch thread per worker (N workers x N threads would oversubscribe the cores)."""
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            on_start(task.key)
            yield score_cell(task)
        return
    import multiprocessing

    # fork (as torch's DataLoader does on Linux) starts workers with the parent's modules already
    # imported; the parent never scores here, so it holds no decoder threads a child could inherit.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    if any(task.device != "cpu" for task in tasks):
        method = "spawn"  # CUDA cannot be used in a forked child
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        pending: dict[Future, CellTask] = {}
        queue = list(reversed(tasks))
        try:
            while queue or pending:
                while queue and len(pending) < 2 * workers:  # keep workers busy without flooding the store
                    task = queue.pop()
                    on_start(task.key)
                    pending[pool.submit(score_cell, task)] = task
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    task = pending.pop(future)
                    try:
                        yield future.result()
                    except Exception as exc:  # the worker process died (e.g. out of memory)
                        yield CellResult(task.key, [], [], 0.0, error=f"worker failed: {exc!r}")
        finally:
            for future in pending:
                future.cancel()


def _execute_on_ray(tasks: list[CellTask], workers: int, on_start: Callable[[CellKey], None],
                    options: RayOptions | None) -> Iterator[CellResult]:
    """Yield each task's CellResult as it finishes, each cell a Ray task (one CPU, one torch thread; a
    GPU with a cuda device), at most ``workers`` at once (0: one per CPU of the cluster). A task whose
    worker died is retried ``max_task_retries`` times, then stored as a failed cell."""
    from unmask.engine.ray_engine import RayOptions, connect, wants_gpu, worker_count

    options = options or RayOptions(workers=workers)
    ray = connect(options)
    limit = worker_count(ray, workers)
    gpus = 1 if any(wants_gpu(task.device) for task in tasks) else 0
    remote = ray.remote(_score_cell_on_ray).options(num_cpus=1, num_gpus=gpus,
                                                    max_retries=options.max_task_retries)
    pending: dict[Any, CellTask] = {}
    queue = list(reversed(tasks))
    try:
        while queue or pending:
            while queue and len(pending) < limit:  # Ray starts every submitted task it has a CPU for
                task = queue.pop()
                on_start(task.key)
                pending[remote.remote(task)] = task
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the worker kept dying: a failed cell, not a crash
                    yield CellResult(task.key, [], [], 0.0, error=f"Ray task failed: {exc!r}")
    finally:
        for ref in pending:
            ray.cancel(ref)


def _score_cell_on_ray(task: CellTask) -> CellResult:
    _init_worker()
    return score_cell(task)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# -- the work of one cell (runs in a worker) ---------------------------------------------------------
_DETECTORS: dict[tuple[str, str], Any] = {}  # (detector name, device) -> Detector
_WAVES: dict[tuple, np.ndarray] = {}


def score_cell(task: CellTask) -> CellResult:
    """Score every clip of one cell; any exception becomes the cell's error (with its traceback)."""
    started = time.perf_counter()
    try:
        detector = _detector(task.detector, task.device)
        rows = [_score_clip(detector, clip, task) for clip in task.clips]
        metric_rows = _cell_metrics(rows, task.group_by)
        return CellResult(task.key, rows, metric_rows, time.perf_counter() - started)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, UnmaskError) else f"{exc!r}\n{traceback.format_exc(limit=4)}"
        return CellResult(task.key, [], [], time.perf_counter() - started, error=detail)


def build_detector(spec: DetectorSpec, device: str = "cpu"):
    """A Detector from a bench detector spec (bundled model, checkpoint, or weights imported in memory),
    on ``device``. Model ``auto`` is the routed detector that ``unmask scan --model auto`` uses: speech
    and music parts of each clip to their own detectors (docs/music.md)."""
    from unmask.detect.calibration import Calibrator
    from unmask.detect.pipeline import Detector, ScanSettings

    if spec.model == "auto":
        from unmask.detect.routing import RoutedDetector

        # each routed detector keeps its own windows; with_settings refuses window/hop with a reason
        detector = RoutedDetector.load(device=device).with_settings(**spec.scan)
    elif spec.model is not None:
        detector = Detector.load(spec.model, device=device, **spec.scan)
    else:
        from unmask.models.importers import IMPORTERS

        importer = IMPORTERS.get(spec.import_["format"])
        if importer is None:
            raise UnmaskError(
                f"detector {spec.name!r}: unknown import format {spec.import_['format']!r}",
                hint=f"known: {', '.join(IMPORTERS)}",
            )
        ckpt = importer(spec.import_["weights"], spec.import_["conf"])
        calibrator = Calibrator.from_dict(ckpt.calibration) if ckpt.calibration else Calibrator()
        detector = Detector(
            ckpt.model,
            calibrator,
            name=spec.name,
            version=ckpt.version,
            card=ckpt.card,
            settings=ScanSettings(**spec.scan),
            device=device,
        )
    detector.name = spec.name
    return detector


def _detector(spec: DetectorSpec, device: str = "cpu"):
    key = (spec.name, device)
    if key not in _DETECTORS:
        _DETECTORS[key] = build_detector(spec, device)
    return _DETECTORS[key]


def _decode(clip: Clip, sample_rate: int, crop_s: float | None) -> np.ndarray:
    from unmask.io import load_audio

    key = (clip.path, clip.start, clip.end, sample_rate, crop_s)
    if key not in _WAVES:
        start = clip.start or 0.0
        duration = None if clip.end is None else clip.end - start
        if crop_s is not None:
            duration = crop_s if duration is None else min(duration, crop_s)
        wave = load_audio(clip.path, sample_rate, start_s=start, duration_s=duration)
        while _WAVES and sum(w.nbytes for w in _WAVES.values()) + wave.nbytes > WAVE_CACHE_BYTES:
            _WAVES.pop(next(iter(_WAVES)))  # oldest first
        _WAVES[key] = wave
    return _WAVES[key]


def _score_clip(detector: Any, clip: Clip, task: CellTask) -> dict[str, Any]:
    row = {
        "clip": clip.number,
        "path": clip.path,
        "label": clip.label,
        "groups": json.dumps(clip.groups, sort_keys=True),
        "fake_probability": None,
        "error": None,
    }
    sample_rate = detector.sample_rate
    try:
        wave = _decode(clip, sample_rate, task.crop_s)
    except UnmaskError as exc:
        row["error"] = str(exc)
        return row
    if task.key.corruption != CLEAN:
        from unmask.eval.corruptions import apply_corruption

        wave = apply_corruption(
            wave, sample_rate, task.key.corruption, task.key.severity, seed=task.seed + clip.number
        )
    result = detector.scan_waveform(wave, sample_rate, name=clip.path)
    if result.error:
        row["error"] = result.error
    else:
        row["fake_probability"] = float(result.fake_probability)
    return row


def _cell_metrics(rows: list[dict[str, Any]], group_by: tuple[str, ...]) -> list[dict[str, Any]]:
    import pandas as pd

    from unmask.eval.metrics import POOLED, summarize, summarize_by

    scored = [r for r in rows if r["error"] is None]
    if not scored:
        first = next((r["error"] for r in rows), "the split has no clips")
        raise UnmaskError(f"no clip could be scored ({len(rows)} tried); first error: {first}")
    frame = pd.DataFrame(
        [
            {"label": r["label"], "fake_probability": r["fake_probability"], **json.loads(r["groups"])}
            for r in scored
        ]
    )
    out = [
        {"grouping": POOLED, "group_value": POOLED, **summarize(frame["fake_probability"], frame["label"])}
    ]
    for column in group_by:
        table = summarize_by(frame, column)
        for record in table.to_dict("records")[1:]:  # the first row is the pooled one, stored above
            value = record.pop(column)
            out.append({"grouping": column, "group_value": value, **record})
    return out


# -- run-directory records ---------------------------------------------------------------------------
def _split_clips(split: Split, dataset: Manifest, group_by: list[str]) -> tuple[Clip, ...]:
    """The test side of ``split`` as clips numbered by their position in the dataset."""
    numbers = {_row_key(row): i for i, row in enumerate(dataset)}
    clips = []
    for row in split.test:
        frame_row = {c: (row.meta[c] if c in row.meta else getattr(row, c)) for c in group_by}
        clips.append(
            Clip(
                number=numbers[_row_key(row)],
                path=str(row.path),
                label=row.label,
                start=row.start,
                end=row.end,
                groups={c: ("" if v is None else str(v)) for c, v in frame_row.items()},
            )
        )
    return tuple(clips)


def _row_key(row: Any) -> tuple:
    return (str(row.path), row.start, row.end)


def _config_record(config: BenchConfig) -> dict[str, Any]:
    record = asdict(config)
    record["fingerprint"] = config.fingerprint()
    return json.loads(json.dumps(record, default=str))


def _write_run_files(config: BenchConfig, run_dir: Path, splits: list[tuple[Split, str]]) -> None:
    """config.json and one folder per split (exact clips of each side, seed and counts)."""
    with atomic_path(run_dir / "config.json") as tmp:
        Path(tmp).write_text(json.dumps(_config_record(config), indent=2, sort_keys=True) + "\n")
    for split, _ in splits:
        split.write(run_dir / "splits" / split_slug(split.name))
