"""``unmask scan --engine ray``: decide what is left, score it on Ray, merge everything into ``--out``.

With ``--out FILE`` a scan on Ray is always resumable. Finished blocks stream back, and this process
writes each as a Parquet shard into ``FILE.parts/``. When the run ends, it merges what ``FILE`` held
before, the shards, and an error row for every input Ray gave up on into ``FILE`` (atomically, in input
order, one row per path), then removes the shards. A rerun, or a run after an interruption, skips every
input whose row in ``FILE`` or in a shard still matches the file (size and modification time, or the
content hash with ``--hash``), like ``scan --resume``.

Formats of ``FILE``: Parquet (the default), CSV, JSON Lines or JSON. Parquet and CSV rows have the local
engine's CSV columns plus ``file_key`` (the resume key) and ``result`` (the whole result as JSON, with
its timeline); JSON Lines rows are the local ``--resume`` rows (``ScanResult.to_dict()`` + ``file_key``).
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from unmask._fs import atomic_path, file_state_key, path_key
from unmask.detect.result import ROW_ARROW_TYPES, ScanResult
from unmask.detect.spec import DetectorSpec
from unmask.engine.ray_engine import (
    LOST_KEY,
    RayOptions,
    collect,
    lost_records,
    read_shards,
    record,
    shard_schema,
    write_shards,
)
from unmask.errors import UnmaskError
from unmask.report.writers import csv_cells

RAY_FORMATS = ("parquet", "csv", "jsonl", "json")
OUT_COLUMNS = (*ROW_ARROW_TYPES, "file_key", "result")  # the shard columns but the input's position
Held = dict[str, tuple[str, ScanResult]]  # path_key -> (file_key, result)


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def format_for(chosen: str | None, out: Path | None) -> str:
    """``--format``, else the output's extension, else Parquet (a table on the terminal without --out)."""
    if chosen and chosen != "table":
        if chosen not in RAY_FORMATS:
            raise UnmaskError(f"--engine ray writes {', '.join(RAY_FORMATS)}, not {chosen}")
        if chosen == "parquet" and out is None:
            raise UnmaskError("--format parquet needs --out FILE")
        return chosen
    if out is None:
        return chosen or "table"
    if chosen == "table":
        raise UnmaskError("--engine ray with --out writes parquet, csv, jsonl or json, not a table")
    suffix = {"ndjson": "jsonl", "pq": "parquet"}.get(out.suffix.lower().lstrip("."), out.suffix.lower()[1:])
    if suffix not in RAY_FORMATS:
        raise UnmaskError(f"--out {out.name}: which format? its extension is none of "
                          f".{', .'.join(RAY_FORMATS)}", hint="add --format parquet|csv|jsonl|json")
    return suffix


# ------------------------------------------------------------------------------------------ running
def run_ray_scan(spec: DetectorSpec, inputs: Sequence[Any], options: RayOptions, out: Path | None,
                 fmt: str, use_hash: bool, log: Callable[[str], None]) -> list[ScanResult]:
    """Every input's result, in input order, its ``path`` as given (``inputs`` are
    ``unmask.cli.scan.ScanInput``). Workers get absolute paths: their working folder is not this one."""
    if out is None:
        return _scan_to_memory(spec, inputs, options)
    held = _read_held(out, fmt, log)
    keys = {path_key(item.path): file_state_key(item.path, use_hash) for item in inputs if item.error is None}
    todo = [item for item in inputs if item.error is None and not _still_valid(held, item.path, keys)]
    done = sum(1 for item in inputs if item.error is None) - len(todo)
    if done:
        log(f"resuming {out}: {done} of {len(inputs)} input(s) already scanned")
    items = [{"path": path_key(item.path), "row": i, "file_key": keys[path_key(item.path)]}
             for i, item in enumerate(todo)]
    held.update(_held_from_rows(write_shards(spec, items, parts_dir(out), options)))
    _add_unscored(held, inputs, [it for it in items if not _still_valid(held, it["path"], keys)], spec,
                  options)
    results = [replace(held[path_key(item.path)][1], path=item.path) for item in inputs]
    _write_out(out, fmt, _with_other_paths(held, inputs, results))
    shutil.rmtree(parts_dir(out), ignore_errors=True)  # every shard row is in ``out`` now
    return results


def _add_unscored(held: Held, inputs: Sequence[Any], lost: list[dict[str, Any]], spec: DetectorSpec,
                  options: RayOptions) -> None:
    """Error rows for what no shard holds: inputs Ray gave up on, arguments that named no file."""
    held.update(_held_from_rows(lost_records(lost, set(), options.max_task_retries, spec.name)))
    for item in inputs:
        if item.error is not None:
            held[path_key(item.path)] = ("-", ScanResult.failed(item.path, item.error, model=spec.name))


def _scan_to_memory(spec: DetectorSpec, inputs: Sequence[Any], options: RayOptions) -> list[ScanResult]:
    items = [{"path": path_key(item.path), "row": i, "file_key": LOST_KEY}
             for i, item in enumerate(inputs) if item.error is None]
    scored = {row["row"]: _result_of(row) for row in collect(spec, items, options)}
    return [ScanResult.failed(item.path, item.error, model=spec.name) if item.error is not None
            else replace(scored[i], path=item.path) for i, item in enumerate(inputs)]


def _still_valid(held: Held, path: str, keys: dict[str, str]) -> bool:
    entry = held.get(path_key(path))
    return entry is not None and entry[0] != LOST_KEY and entry[0] == keys[path_key(path)]


def _with_other_paths(held: Held, inputs: Sequence[Any], results: list[ScanResult]
                      ) -> list[tuple[str, ScanResult]]:
    """The inputs' rows in input order, then the rows an earlier run wrote for other paths (kept)."""
    wanted = {path_key(item.path) for item in inputs}
    rows = [(held[path_key(item.path)][0], result) for item, result in zip(inputs, results, strict=True)]
    return rows + [entry for key, entry in held.items() if key not in wanted]


def _result_of(row: dict[str, Any]) -> ScanResult:
    return ScanResult.from_dict(json.loads(row["result"]))


def _held_from_rows(rows: Sequence[dict[str, Any]]) -> Held:
    return {path_key(row["path"]): (str(row["file_key"]), _result_of(row)) for row in rows}


# ------------------------------------------------------------------------------------------ the output file
def _read_held(out: Path, fmt: str, log: Callable[[str], None]) -> Held:
    """What ``out`` (in ``fmt``) and the shards of an interrupted run already hold."""
    held: Held = {}
    if out.exists():
        try:
            held.update(_held_from_rows(_read_rows(out, fmt)))
        except (OSError, ValueError, KeyError, TypeError, csv.Error) as exc:
            raise UnmaskError(
                f"cannot resume from it: not a {fmt} output of `unmask scan --engine ray` ({exc})", path=out,
                hint="pick a new --out, or the --format it was written in",
            ) from exc
    held.update(_held_from_rows(read_shards(parts_dir(out), log)))
    return held


def _read_rows(out: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(out).to_pylist()
    if fmt == "csv":
        csv.field_size_limit(sys.maxsize)  # ``result`` holds a whole timeline: an hour-long file's is big
        with open(out, encoding="utf-8", newline="") as handle:  # newline="": paths may hold \r or \u2028
            return list(csv.DictReader(handle))
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        dicts = json.loads(text)
    else:
        dicts = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [{"path": d["path"], "file_key": d["file_key"],
             "result": json.dumps({k: v for k, v in d.items() if k != "file_key"})} for d in dicts]


def _write_out(out: Path, fmt: str, rows: Sequence[tuple[str, ScanResult]]) -> None:
    with atomic_path(out) as tmp:
        if fmt == "parquet":
            _write_parquet(tmp, rows)
        elif fmt == "csv":
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                # RFC 4180 line ends: a \r in a path is then quoted too, and the row reads back whole
                writer = csv.DictWriter(handle, fieldnames=OUT_COLUMNS, lineterminator="\r\n")
                writer.writeheader()
                for key, result in rows:
                    writer.writerow(csv_cells(_out_row(key, result)))
        else:
            dicts = [result.to_dict() | {"file_key": key} for key, result in rows]
            with open(tmp, "w", encoding="utf-8") as handle:
                if fmt == "json":
                    handle.write(json.dumps(dicts, indent=2, default=str, allow_nan=False) + "\n")
                else:
                    handle.writelines(json.dumps(d, default=str, allow_nan=False) + "\n" for d in dicts)


def _out_row(key: str, result: ScanResult) -> dict[str, Any]:
    row = record(result, {"file_key": key, "row": 0})
    return {column: row[column] for column in OUT_COLUMNS}


def _write_parquet(tmp: str, rows: Sequence[tuple[str, ScanResult]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([field for field in shard_schema() if field.name in OUT_COLUMNS])
    pq.write_table(pa.Table.from_pylist([_out_row(k, r) for k, r in rows], schema=schema), tmp)

