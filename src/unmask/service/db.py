"""The service's store: API keys and scan jobs in SQL (SQLAlchemy 2 Core), schema by Alembic migrations.

SQLite by default, any SQLAlchemy URL otherwise (``postgresql://...`` is taken to mean psycopg 3). A scan
job's ``status`` goes queued -> running -> done | failed; a job is claimed with a conditional UPDATE
(``WHERE status = 'queued'``), so two workers, or two server processes, never score the same job. On start,
jobs left ``running`` by a server that died are queued again (or failed, once ``max_attempts`` is spent),
so no job is lost silently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from unmask._db import open_engine

SCAN_STATUSES = ("queued", "running", "done", "failed")
KEY_PREFIX = "unm"

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key_id", sa.String(16), nullable=False, unique=True),  # the public part shown in listings
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),  # sha256 of the whole key; the key is never stored
    sa.Column("admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
)

scans = sa.Table(
    "scans",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random: ids cannot be enumerated
    sa.Column("owner", sa.Integer, sa.ForeignKey("api_keys.id"), nullable=False, index=True),
    sa.Column("status", sa.String(10), nullable=False, index=True),
    sa.Column("source", sa.String(10), nullable=False),  # upload | path
    sa.Column("filename", sa.String(300), nullable=False),  # shown to users; never used as a path
    sa.Column("media_type", sa.String(40)),  # sniffed from the content
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("stored_path", sa.Text),  # internal; never returned by the API
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("verdict", sa.String(10), index=True),
    sa.Column("fake_probability", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("result", sa.Text),  # the ScanResult JSON, exactly as the CLI writes it
    sa.Column("spectrogram", sa.Text),  # JSON, see unmask.service.spectrogram
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("purge_after", sa.DateTime(timezone=True)),  # when a retained upload is deleted
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def hash_key(key: str) -> str:
    # Keys are 256 random bits: a fast hash is enough (no dictionary to attack), and it is constant time
    # to compare. A database leak yields hashes that cannot be turned back into keys.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    id: int
    key_id: str
    name: str
    admin: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "admin": self.admin,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def _key_from_row(row: Any) -> ApiKey:
    return ApiKey(
        row.id, row.key_id, row.name, bool(row.admin), _aware(row.created_at), _aware(row.revoked_at),
        _aware(row.last_used_at),
    )


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it in an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class ServiceStore:
    """Keys and scan jobs; migrates the schema on open."""

    def __init__(self, url: str) -> None:
        self.engine = open_engine(url, what="the service database", example="sqlite:///path/unmask-serve.sqlite",
                                  prepare=migrate, shared_sqlite=True)

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    # -- keys ---------------------------------------------------------------------------------------
    def create_key(self, name: str, *, admin: bool = False) -> tuple[str, ApiKey]:
        """A new key: returns the key itself (shown once, never stored) and its record."""
        key_id = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        now = utcnow()
        with self.engine.begin() as conn:
            new_id = conn.execute(
                api_keys.insert().values(
                    key_id=key_id, name=name[:200], key_hash=hash_key(key), admin=admin, created_at=now
                )
            ).inserted_primary_key[0]
        return key, ApiKey(new_id, key_id, name[:200], admin, now, None, None)

    def list_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.id)).all()
        return [_key_from_row(r) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke by the public key id (``unm_<key_id>_...``, also accepts the whole key)."""
        if key_id.startswith(f"{KEY_PREFIX}_"):
            key_id = key_id.split("_")[1] if key_id.count("_") >= 2 else key_id
        with self.engine.begin() as conn:
            done = conn.execute(
                api_keys.update()
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return done.rowcount == 1

    def authenticate(self, key: str) -> ApiKey | None:
        """The live key record for a presented key, or None (unknown, malformed or revoked)."""
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != KEY_PREFIX or len(key) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == parts[1])).first()
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)) or row.revoked_at is not None:
            return None
        return _key_from_row(row)

    def touch_key(self, key: ApiKey) -> None:
        with self.engine.begin() as conn:
            conn.execute(api_keys.update().where(api_keys.c.id == key.id).values(last_used_at=utcnow()))

    # -- scans --------------------------------------------------------------------------------------
    def add_scan(self, *, owner: int, source: str, filename: str, media_type: str | None,
                 size_bytes: int | None, stored_path: str, model: str) -> dict[str, Any]:
        row = {
            "id": secrets.token_hex(16),
            "owner": owner,
            "status": "queued",
            "source": source,
            "filename": filename[:300],
            "media_type": media_type,
            "size_bytes": size_bytes,
            "stored_path": stored_path,
            "model": model,
            "attempts": 0,
            "created_at": utcnow(),
        }
        with self.engine.begin() as conn:
            conn.execute(scans.insert().values(**row))
        return self.get_scan(row["id"])

    def count_queued(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(scans).where(scans.c.status == "queued")
            ).scalar_one()

    def status_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(scans.c.status, sa.func.count()).group_by(scans.c.status)).all()
        counts = dict.fromkeys(SCAN_STATUSES, 0)
        counts.update({status: n for status, n in rows})
        return counts

    def get_scan(self, scan_id: str, *, owner: ApiKey | None = None, internal: bool = False) -> dict | None:
        query = sa.select(scans).where(scans.c.id == scan_id)
        if owner is not None and not owner.admin:
            query = query.where(scans.c.owner == owner.id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _scan_dict(row, internal=internal)

    def get_spectrogram(self, scan_id: str, *, owner: ApiKey | None = None) -> tuple[bool, Any]:
        """(found, spectrogram or None)."""
        query = sa.select(scans.c.spectrogram).where(scans.c.id == scan_id)
        if owner is not None and not owner.admin:
            query = query.where(scans.c.owner == owner.id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return False, None
        return True, json.loads(row.spectrogram) if row.spectrogram else None

    def list_scans(self, *, owner: ApiKey | None = None, verdict: str | None = None,
                   status: str | None = None, model: str | None = None,
                   created_after: datetime | None = None, created_before: datetime | None = None,
                   offset: int = 0, limit: int = 20) -> tuple[list[dict], int]:
        where = []
        if owner is not None and not owner.admin:
            where.append(scans.c.owner == owner.id)
        if verdict:
            where.append(scans.c.verdict == verdict)
        if status:
            where.append(scans.c.status == status)
        if model:
            where.append(scans.c.model == model)
        if created_after:
            where.append(scans.c.created_at >= created_after)
        if created_before:
            where.append(scans.c.created_at < created_before)
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(scans).where(*where)).scalar_one()
            rows = conn.execute(
                sa.select(scans).where(*where)
                .order_by(scans.c.created_at.desc(), scans.c.id)
                .offset(offset).limit(limit)
            ).all()
        return [_scan_dict(r) for r in rows], total

    def delete_scan(self, scan_id: str, *, owner: ApiKey | None = None) -> dict | None:
        """Delete a scan record; returns its internal row (the caller deletes its stored upload)."""
        row = self.get_scan(scan_id, owner=owner, internal=True)
        if row is None:
            return None
        with self.engine.begin() as conn:
            conn.execute(scans.delete().where(scans.c.id == scan_id))
        return row

    # -- jobs ---------------------------------------------------------------------------------------
    def claim_next(self) -> dict | None:
        """Mark the oldest queued job running and return it (internal row), or None when none is queued."""
        for _ in range(20):  # lost races to another worker: try the next one
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(scans.c.id).where(scans.c.status == "queued")
                    .order_by(scans.c.created_at, scans.c.id).limit(1)
                ).first()
            if row is None:
                return None
            with self.engine.begin() as conn:
                won = conn.execute(
                    scans.update()
                    .where(scans.c.id == row.id, scans.c.status == "queued")
                    .values(status="running", started_at=utcnow(), attempts=scans.c.attempts + 1)
                ).rowcount == 1
            if won:
                return self.get_scan(row.id, internal=True)
        return None

    def finish_scan(self, scan_id: str, *, status: str, result: dict | None, error: str | None,
                    spectrogram: dict | None = None, purge_after: datetime | None = None,
                    keep_path: bool = False) -> bool:
        """Record a job's end; False when the job is gone (deleted while it was being scored)."""
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "finished_at": utcnow(),
            "result": json.dumps(result, allow_nan=False) if result is not None else None,
            "spectrogram": json.dumps(spectrogram, allow_nan=False) if spectrogram is not None else None,
            "purge_after": purge_after,
        }
        if result is not None:
            values.update(
                verdict=result.get("verdict"),
                fake_probability=result.get("fake_probability"),
                duration_s=result.get("duration_s"),
            )
        if not keep_path:
            values["stored_path"] = None
        with self.engine.begin() as conn:
            return conn.execute(scans.update().where(scans.c.id == scan_id).values(**values)).rowcount == 1

    def recover(self, max_attempts: int) -> tuple[int, int]:
        """Jobs left running by a dead server: queued again, or failed once ``max_attempts`` are spent.
        Returns (requeued, failed). Call before any worker of this store starts."""
        with self.engine.begin() as conn:
            failed = conn.execute(
                scans.update()
                .where(scans.c.status == "running", scans.c.attempts >= max_attempts)
                .values(
                    status="failed",
                    finished_at=utcnow(),
                    error=f"scoring was interrupted {max_attempts} times (the server stopped while "
                    "scoring it); not retried again",
                )
            ).rowcount
            requeued = conn.execute(
                scans.update().where(scans.c.status == "running").values(status="queued")
            ).rowcount
        return requeued, failed

    def expired_uploads(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """(scan id, stored path) of retained uploads whose retention has run out."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(scans.c.id, scans.c.stored_path).where(
                    scans.c.purge_after.is_not(None), scans.c.purge_after <= now,
                    scans.c.stored_path.is_not(None),
                )
            ).all()
        return [(r.id, r.stored_path) for r in rows]

    def stored_paths(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(scans.c.stored_path).where(scans.c.stored_path.is_not(None))).all()
        return {r.stored_path for r in rows}

    def forget_upload(self, scan_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                scans.update().where(scans.c.id == scan_id).values(stored_path=None, purge_after=None)
            )


def _iso(value: datetime | None) -> str | None:
    value = _aware(value)
    return value.isoformat() if value else None


def _scan_dict(row: Any, *, internal: bool = False) -> dict[str, Any]:
    data = {
        "id": row.id,
        "status": row.status,
        "source": row.source,
        "filename": row.filename,
        "media_type": row.media_type,
        "size_bytes": row.size_bytes,
        "model": row.model,
        "verdict": row.verdict,
        "fake_probability": row.fake_probability,
        "duration_s": row.duration_s,
        "error": row.error,
        "attempts": row.attempts,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "result": json.loads(row.result) if row.result else None,
    }
    if internal:
        data["stored_path"] = row.stored_path
        data["owner"] = row.owner
    return data


def retention_deadline(hours: float) -> datetime | None:
    return utcnow() + timedelta(hours=hours) if hours > 0 else None
