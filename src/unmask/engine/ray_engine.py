"""``--engine ray``: the local engine's scoring, run by Ray Data actors on a Ray cluster (docs/scale.md).

What runs where
- The driver (the ``unmask`` command) expands the inputs and decides what is left to score; it hands Ray
  Data a table of those inputs (``ray.data.from_pandas``), cut into blocks of ``files_per_task`` inputs.
- ``map_batches`` runs :class:`ScoreBatch` in a pool of ``workers`` actors. Each actor loads the Detector
  once (:meth:`DetectorSpec.build`) and scores a block with ``Detector.scan_many`` (``scan_segment`` for
  manifest rows with start/end): the local engine's code, so both engines give the same scores.
- Results are rows of :func:`shard_schema`: the local engine's CSV columns (``ScanResult.to_row``), the
  file's resume key, the whole result as JSON, and the input's position. Each finished block streams
  back to the driver (``iter_batches``), which :func:`write_shards` writes as one Parquet shard
  (atomically) and :func:`collect` keeps in memory. So the output needs no folder the nodes share.

Failures
- A file that cannot be decoded is an error row, as in the local engine.
- A killed actor is restarted by Ray and its block run again (``max_restarts``, ``max_task_retries``), so
  its inputs are retried, not lost. A block that still fails after ``max_task_retries`` retries (a file
  that crashes its worker every time) is given up by Ray Data (``max_errored_blocks``) and
  :func:`lost_records` turns each of its inputs into an error row that says so; a rerun tries them again.
"""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

from unmask._fs import atomic_path
from unmask.detect.result import ROW_ARROW_TYPES, ScanResult, arrow_schema
from unmask.detect.spec import DetectorSpec
from unmask.errors import UnmaskError

if TYPE_CHECKING:
    import pyarrow as pa

    from unmask.detect.pipeline import Detector

Log = Callable[[str], None]

# The engine's own columns, after the local engine's CSV columns (ROW_ARROW_TYPES, ScanResult.to_row).
EXTRA_TYPES: dict[str, str] = {
    "file_key": "string",  # unmask._fs.file_state_key when the input was planned; "" = retry on a rerun
    "result": "string",  # ScanResult.to_dict() as JSON: the timeline, attribution and explanation
    "row": "int64",  # the input's position in the driver's list
}
LOST_KEY = ""  # the file_key of an input whose worker kept dying: it never matches, so a rerun retries it


def shard_schema() -> pa.Schema:
    return arrow_schema({**ROW_ARROW_TYPES, **EXTRA_TYPES})


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run. ``address`` None starts a Ray instance on this machine (``num_cpus``
    and ``object_store_memory`` size it); ``auto`` joins the cluster this machine belongs to;
    ``ray://HOST:PORT`` connects a Ray Client."""

    address: str | None = None
    workers: int = 0  # actors; 0 = one per ``threads`` CPUs the cluster has
    files_per_task: int = 32  # inputs per block: the unit Ray retries and writes as one shard
    max_task_retries: int = 3  # reruns of a block whose actor died, before its inputs become error rows
    num_cpus: int | None = None  # local instance only
    object_store_memory: int | None = None  # local instance only; bytes
    gpus_per_worker: float = 0.0  # with --device cuda: each actor's share of a GPU (0 = a whole one)


# ------------------------------------------------------------------------------------------ cluster
def connect(options: RayOptions) -> ModuleType:
    """Start or join Ray once per process; returns the ``ray`` module."""
    try:
        import ray
    except ImportError as exc:
        raise UnmaskError(
            "--engine ray needs Ray", hint='pip install "unmask[ray]" (ray[data]); see docs/scale.md'
        ) from exc
    if not ray.is_initialized():
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if options.address:
                ray.init(address=options.address, **quiet)
            else:
                ray.init(num_cpus=options.num_cpus, object_store_memory=options.object_store_memory, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UnmaskError(
                f"cannot start or reach Ray at {options.address or 'this machine'}: {exc}",
                hint="check --address (auto, or ray://HOST:10001) and that `ray status` works there",
            ) from exc
    _quiet_ray_data(ray)
    return ray


def _quiet_ray_data(ray) -> None:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.max_errored_blocks = -1  # a block that keeps failing is reported by lost_records, not fatal
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False
    # Ray Data warns about settings made on purpose here (no progress bars); what is lost is reported
    # by lost_records, so only its errors are shown.
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def wants_gpu(device: str) -> bool:
    """``cuda`` or ``cuda:N``: the work must be placed where Ray has a GPU to give it."""
    return device.strip().lower().startswith("cuda")


def gpus_per_actor(spec: DetectorSpec, options: RayOptions) -> float | None:
    """With ``--device cuda`` each actor asks Ray for a GPU (all of one unless ``gpus_per_worker`` says
    a share), so Ray places it on a GPU node and gives it its own device."""
    if options.gpus_per_worker:
        return options.gpus_per_worker
    return 1.0 if wants_gpu(spec.device) else None


def worker_count(ray: ModuleType, workers: int, cpus_each: int = 1) -> int:
    """``workers``, or with 0 as many as the cluster has CPUs for (``cpus_each`` CPUs a worker)."""
    if workers:
        return workers
    return max(1, int(ray.cluster_resources().get("CPU", 1)) // max(1, cpus_each))


# ------------------------------------------------------------------------------------------ the actor
class ScoreBatch:
    """A Ray Data actor: loads the Detector once, then scores one block of inputs per call."""

    def __init__(self, spec: DetectorSpec) -> None:
        import torch

        torch.set_num_threads(max(1, spec.threads))
        self.detector = spec.build()

    def __call__(self, batch: pd.DataFrame) -> pa.Table:
        import pyarrow as pa

        items = batch.to_dict(orient="records")
        return pa.Table.from_pylist(score_items(self.detector, items), schema=shard_schema())


def score_items(detector, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Shard rows for ``items`` (``path``, ``row``, ``file_key``, optional ``start``/``end``), in order.

    Whole files go through ``Detector.scan_many`` (decoding overlaps scoring), segments through
    ``scan_segment``: the calls the local ``scan`` and ``evaluate`` make. Should the model itself raise
    (a bug, not a bad file), each input is scored on its own and the exception is that input's error row.
    """
    try:
        results = _score_in_order(detector, items)
    except Exception:  # noqa: BLE001 - isolate the input that raised; the others keep their scores
        results = [_score_alone(detector, item) for item in items]
    return [_record_or_error(r, item, detector.name) for r, item in zip(results, items, strict=True)]


def _record_or_error(result: ScanResult, item: dict[str, Any], model: str) -> dict[str, Any]:
    """A result that cannot be serialised (a NaN in an explanation, say) is that input's error row, not
    the whole block's failure."""
    try:
        return record(result, item)
    except (TypeError, ValueError) as exc:
        message = f"{item['path']}: its result cannot be stored ({exc})"
        return record(ScanResult.failed(item["path"], message, model=model), item)


def _is_segment(item: dict[str, Any]) -> bool:
    return _present(item.get("start")) or _present(item.get("end"))


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)  # NaN: no value


def _score_in_order(detector: Detector, items: Sequence[dict[str, Any]]) -> list[ScanResult]:
    whole = detector.scan_many([item["path"] for item in items if not _is_segment(item)])
    try:
        return [_segment(detector, item) if _is_segment(item) else next(whole) for item in items]
    finally:
        whole.close()  # stops its decoding thread, also when a segment raised


def _segment(detector, item: dict[str, Any]) -> ScanResult:
    start, end = (value if _present(value) else None for value in (item.get("start"), item.get("end")))
    return detector.scan_segment(item["path"], start, end)


def _score_alone(detector, item: dict[str, Any]) -> ScanResult:
    try:
        return _segment(detector, item) if _is_segment(item) else detector.scan(item["path"])
    except Exception as exc:  # noqa: BLE001 - reported as this input's error row
        message = f"{item['path']}: scoring failed ({exc!r})"
        return ScanResult.failed(item["path"], message, model=detector.name)


def record(result: ScanResult, item: dict[str, Any]) -> dict[str, Any]:
    """One shard row: the CSV columns, the resume key, the whole result and the input's position."""
    return result.to_row() | {
        "file_key": item.get("file_key", LOST_KEY),
        "result": json.dumps(result.to_dict(), default=str, allow_nan=False),
        "row": int(item["row"]),
    }


def lost_records(items: Iterable[dict[str, Any]], seen_rows: set[int], retries: int,
                 model: str | None) -> list[dict[str, Any]]:
    """Error rows for the ``items`` whose ``row`` is not in ``seen_rows``: Ray gave their block up after
    its worker kept dying."""
    reason = (f"its block failed {retries + 1} times (its worker died: out of memory, or a crash in a "
              "decoder); not scored")
    hint = "it is retried on the next run; scan it alone (--engine local) to see the error"
    lost = []
    for item in items:
        if int(item["row"]) not in seen_rows:
            message = str(UnmaskError(reason, path=item["path"], hint=hint))
            lost.append(record(ScanResult.failed(item["path"], message, model=model),
                               {**item, "file_key": LOST_KEY}))
    return lost


# ------------------------------------------------------------------------------------------ running
def _dataset(ray, spec: DetectorSpec, items: pd.DataFrame, options: RayOptions):
    size = max(1, options.files_per_task)
    chunks = [items.iloc[i : i + size] for i in range(0, len(items), size)]
    actors = min(worker_count(ray, options.workers, spec.threads), len(chunks))  # no idle model loads
    with warnings.catch_warnings():
        # Ray Data's own default is to retry a dead actor's block forever, which would never end on a file
        # that crashes its worker every time; the only way to bound it is a remote argument Ray 2.60 marks
        # deprecated (hence ray < 2.64 in pyproject.toml).
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        return ray.data.from_pandas(chunks).map_batches(
            ScoreBatch, fn_constructor_kwargs={"spec": spec}, batch_size=None, batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=max(1, spec.threads),
            num_gpus=gpus_per_actor(spec, options), max_restarts=-1,
            max_task_retries=options.max_task_retries,
        )


def items_frame(items: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The driver's inputs as the table Ray Data reads: path, row, file_key, start, end."""
    frame = pd.DataFrame(list(items), columns=["path", "row", "file_key", "start", "end"])
    frame["start"] = frame["start"].astype("float64")
    frame["end"] = frame["end"].astype("float64")
    frame["file_key"] = [LOST_KEY if not isinstance(k, str) else k for k in frame["file_key"]]
    return frame


def iter_scored(spec: DetectorSpec, items: Sequence[dict[str, Any]], options: RayOptions
                ) -> Iterator[pa.Table]:
    """Score ``items`` on Ray; yields each finished block's rows (a ``pyarrow.Table``) as it arrives here.

    Results stream back to this process rather than being written by the workers, so the output needs
    no folder the cluster's nodes share (the inputs do: every worker opens its files by path)."""
    if not items:
        return
    ray = connect(options)
    dataset = _dataset(ray, spec, items_frame(items), options)
    try:
        yield from dataset.iter_batches(batch_size=None, batch_format="pyarrow")
    except ray.exceptions.RayError as exc:  # e.g. the model does not load on a node
        raise UnmaskError(
            f"the Ray job failed: {str(exc).splitlines()[0]}",
            hint="the workers' logs are under /tmp/ray/session_latest/logs on each node (ray logs)",
        ) from exc


def write_shards(spec: DetectorSpec, items: Sequence[dict[str, Any]], parts_dir: Path,
                 options: RayOptions) -> list[dict[str, Any]]:
    """Score ``items`` on Ray; each finished block becomes a Parquet shard in ``parts_dir``, written
    atomically as it arrives, so an interrupted run keeps every block that finished. Returns the rows
    written."""
    import pyarrow.parquet as pq

    parts_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:12]
    rows: list[dict[str, Any]] = []
    for number, table in enumerate(iter_scored(spec, items, options)):
        with atomic_path(parts_dir / f"part-{run}-{number:06d}.parquet") as tmp:
            pq.write_table(table, tmp)
        rows += table.to_pylist()
    return rows


def collect(spec: DetectorSpec, items: Sequence[dict[str, Any]], options: RayOptions) -> list[dict[str, Any]]:
    """Score ``items`` on Ray and return the rows here, sorted by ``row``; the inputs Ray gave up on
    are error rows."""
    rows: list[dict[str, Any]] = []
    for table in iter_scored(spec, items, options):
        rows += table.to_pylist()
    rows += lost_records(items, {r["row"] for r in rows}, options.max_task_retries, spec.name)
    return sorted(rows, key=lambda r: r["row"])


def read_shards(parts_dir: Path, log: Log) -> list[dict[str, Any]]:
    """Every row of the readable shards in ``parts_dir``. A shard an interrupted run left unreadable is
    renamed ``*.unreadable`` (its inputs are scored again) and reported."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    if not parts_dir.is_dir():
        return rows
    for shard in sorted(parts_dir.glob("*.parquet")):
        try:
            rows += pq.read_table(shard).to_pylist()
        except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (a ValueError) on a torn file
            log(f"{shard}: unreadable shard ({exc}); its inputs are scanned again")
            shard.rename(shard.with_name(shard.name + ".unreadable"))
    return rows
