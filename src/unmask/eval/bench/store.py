"""The results store: runs, cells, per-clip scores and metrics in SQL (SQLAlchemy 2 Core).

SQLite by default (``sqlite:///RUN_DIR/results.sqlite``); any SQLAlchemy URL works, e.g.
``postgresql+psycopg://user@host/db``. A cell is one (detector, split, corruption, severity) of a run;
its ``status`` goes pending -> running -> done | failed. Only the bench's main process writes, so SQLite
needs no locking beyond its own; a cell's scores and metrics are written in the same transaction that
marks it done, so an interrupted run never leaves a "done" cell with half its rows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import sqlalchemy as sa

from unmask._db import open_engine
from unmask.errors import UnmaskError

STATUSES = ("pending", "running", "done", "failed")
CLEAN = "clean"  # the corruption name of an uncorrupted cell (severity 0)
METRIC_COLUMNS = ("n", "n_real", "n_fake", "eer", "min_dcf", "act_dcf", "auc", "ece", "brier", "cllr")

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("unmask_version", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

cells = sa.Table(
    "cells",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("detector", sa.String(200), nullable=False),
    sa.Column("split", sa.String(300), nullable=False),
    sa.Column("protocol", sa.String(40), nullable=False),
    sa.Column("corruption", sa.String(100), nullable=False),
    sa.Column("severity", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, default="pending"),
    sa.Column("error", sa.Text),
    sa.Column("n_clips", sa.Integer),
    sa.Column("n_failed", sa.Integer),
    sa.Column("seconds", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("run_id", "detector", "split", "corruption", "severity", name="uq_cell"),
)

scores = sa.Table(
    "scores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "cell_id", sa.Integer, sa.ForeignKey("cells.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("clip", sa.Integer, nullable=False),  # the clip's number in its dataset
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("label", sa.String(4), nullable=False),
    sa.Column("groups", sa.Text, nullable=False),  # JSON {column: value} of the config's group_by columns
    sa.Column("fake_probability", sa.Float),  # NULL when the clip could not be scored
    sa.Column("error", sa.Text),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "cell_id", sa.Integer, sa.ForeignKey("cells.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("grouping", sa.String(100), nullable=False),  # "(all)" for pooled, else the column name
    sa.Column("group_value", sa.Text, nullable=False),
    *(sa.Column(name, sa.Float) for name in METRIC_COLUMNS),
    sa.Column("note", sa.Text),
    sa.Column("summary", sa.Text, nullable=False),  # every key of unmask.eval.metrics.summarize, as JSON
)


@dataclass(frozen=True)
class CellKey:
    detector: str
    split: str
    corruption: str
    severity: int


@dataclass
class CellResult:
    """What a worker returns for one cell: per-clip rows and metric rows, or an error."""

    key: CellKey
    scores: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    seconds: float
    error: str | None = None


def default_url(run_dir: Any) -> str:
    from pathlib import Path

    return f"sqlite:///{Path(run_dir).resolve() / 'results.sqlite'}"


class ResultStore:
    """A results database; creates its tables on first use."""

    def __init__(self, url: str) -> None:
        self.engine = open_engine(url, what="the results store", example="sqlite:///runs/x/results.sqlite",
                                  prepare=metadata.create_all)

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------------------------------
    def open_run(self, name: str, fingerprint: str, config: dict[str, Any], version: str) -> int:
        """The id of run ``name``, created if new. An existing run must have the same fingerprint."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(runs.c.id, runs.c.fingerprint).where(runs.c.name == name)).first()
            if row is None:
                return conn.execute(
                    runs.insert().values(
                        name=name,
                        fingerprint=fingerprint,
                        config=json.dumps(config, sort_keys=True, default=str),
                        unmask_version=version,
                        created_at=datetime.now(timezone.utc),
                    )
                ).inserted_primary_key[0]
            if row.fingerprint != fingerprint:
                raise UnmaskError(
                    f"run {name!r} in {self.safe_url} was made with a different configuration "
                    f"({row.fingerprint} != {fingerprint}); its finished cells would not match this one",
                    hint="give the config a new 'name', use another --store/--out, or delete the old run",
                )
            return row.id

    def run_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(runs.c.name).order_by(runs.c.id)).scalars())

    def run_info(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.name == name)).mappings().first()
        if row is None:
            raise UnmaskError(
                f"no run named {name!r} in {self.safe_url}",
                hint=f"runs there: {', '.join(self.run_names()) or '(none)'}",
            )
        info = dict(row)
        info["config"] = json.loads(info["config"])
        return info

    # -- cells --------------------------------------------------------------------------------------
    def ensure_cells(self, run_id: int, planned: Iterable[tuple[CellKey, str]]) -> None:
        """Insert the (key, protocol) cells not yet in the store as pending."""
        with self.engine.begin() as conn:
            existing = {
                CellKey(r.detector, r.split, r.corruption, r.severity)
                for r in conn.execute(
                    sa.select(cells.c.detector, cells.c.split, cells.c.corruption, cells.c.severity).where(
                        cells.c.run_id == run_id
                    )
                )
            }
            new = [
                {"run_id": run_id, "protocol": protocol, "status": "pending", "attempts": 0, **vars(key)}
                for key, protocol in planned
                if key not in existing
            ]
            if new:
                conn.execute(cells.insert(), new)

    def cell_statuses(self, run_id: int) -> dict[CellKey, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    cells.c.detector, cells.c.split, cells.c.corruption, cells.c.severity, cells.c.status
                ).where(cells.c.run_id == run_id)
            )
            return {CellKey(r.detector, r.split, r.corruption, r.severity): r.status for r in rows}

    def mark_running(self, run_id: int, key: CellKey) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                cells.update()
                .where(_cell_where(run_id, key))
                .values(status="running", error=None, attempts=cells.c.attempts + 1)
            )

    def save_result(self, run_id: int, result: CellResult) -> None:
        """Replace the cell's rows with ``result`` and mark it done or failed, in one transaction."""
        with self.engine.begin() as conn:
            cell_id = conn.execute(sa.select(cells.c.id).where(_cell_where(run_id, result.key))).scalar_one()
            conn.execute(scores.delete().where(scores.c.cell_id == cell_id))
            conn.execute(metrics.delete().where(metrics.c.cell_id == cell_id))
            failed_clips = sum(1 for s in result.scores if s.get("error"))
            if result.error is None:
                if result.scores:
                    conn.execute(scores.insert(), [{"cell_id": cell_id, **s} for s in result.scores])
                if result.metrics:
                    conn.execute(
                        metrics.insert(), [{"cell_id": cell_id, **_sql_metrics(m)} for m in result.metrics]
                    )
            conn.execute(
                cells.update()
                .where(cells.c.id == cell_id)
                .values(
                    status="failed" if result.error else "done",
                    error=result.error,
                    n_clips=len(result.scores),
                    n_failed=failed_clips,
                    seconds=result.seconds,
                    finished_at=datetime.now(timezone.utc),
                )
            )

    # -- reading ------------------------------------------------------------------------------------
    def cells_frame(self, run: str) -> pd.DataFrame:
        query = (
            sa.select(cells)
            .join(runs, runs.c.id == cells.c.run_id)
            .where(runs.c.name == run)
            .order_by(cells.c.id)
        )
        with self.engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).mappings().all(), columns=[c.name for c in cells.columns])

    def metrics_frame(self, run: str) -> pd.DataFrame:
        """Metric rows of the run's done cells, joined with the cell's key columns."""
        query = (
            sa.select(
                cells.c.detector,
                cells.c.split,
                cells.c.protocol,
                cells.c.corruption,
                cells.c.severity,
                metrics,
            )
            .join(metrics, metrics.c.cell_id == cells.c.id)
            .join(runs, runs.c.id == cells.c.run_id)
            .where(runs.c.name == run, cells.c.status == "done")
            .order_by(metrics.c.id)
        )
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all())
        for column in METRIC_COLUMNS:
            if column in frame:
                frame[column] = pd.to_numeric(frame[column], errors="coerce")
        return frame

    def scores_frame(self, run: str, corruption: str | None = CLEAN) -> pd.DataFrame:
        """Per-clip scores of the run's done cells (only ``corruption`` cells unless None)."""
        query = (
            sa.select(cells.c.detector, cells.c.split, cells.c.corruption, cells.c.severity, scores)
            .join(scores, scores.c.cell_id == cells.c.id)
            .join(runs, runs.c.id == cells.c.run_id)
            .where(runs.c.name == run, cells.c.status == "done")
            .order_by(scores.c.id)
        )
        if corruption is not None:
            query = query.where(cells.c.corruption == corruption)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all())
        if len(frame):
            frame["fake_probability"] = pd.to_numeric(frame["fake_probability"], errors="coerce")
        return frame


def _cell_where(run_id: int, key: CellKey) -> sa.ColumnElement[bool]:
    return sa.and_(
        cells.c.run_id == run_id,
        cells.c.detector == key.detector,
        cells.c.split == key.split,
        cells.c.corruption == key.corruption,
        cells.c.severity == key.severity,
    )


def _sql_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """Metric row -> SQL values: NaN becomes NULL (JSON and some drivers have no NaN)."""
    out = {
        "grouping": row["grouping"],
        "group_value": str(row["group_value"]),
        "note": _clean(row.get("note")),
    }
    for name in METRIC_COLUMNS:
        out[name] = _clean(row.get(name))
    out["summary"] = json.dumps({k: _clean(v) for k, v in row.items()}, sort_keys=True, default=str)
    return out


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


def status_counts(statuses: Sequence[str]) -> dict[str, int]:
    return {s: sum(1 for x in statuses if x == s) for s in STATUSES}
