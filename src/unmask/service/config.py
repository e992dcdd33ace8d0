"""What an ``unmask serve`` instance is allowed to do: storage, limits, keys, workers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024**3
MIB = 1024**2


def default_data_dir() -> Path:
    """Where the service keeps its SQLite store and queued uploads when not told otherwise:
    ``$UNMASK_SERVE_HOME``, else ``$XDG_DATA_HOME/unmask/serve``, else ``~/.local/share/unmask/serve``.
    Never under a web root: nothing in it is served."""
    if os.environ.get("UNMASK_SERVE_HOME"):
        return Path(os.environ["UNMASK_SERVE_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "unmask" / "serve"


def default_db_url(data_dir: Path | None = None) -> str:
    return f"sqlite:///{(data_dir or default_data_dir()).resolve() / 'unmask-serve.sqlite'}"


@dataclass
class ServiceConfig:
    """Settings of one service instance (the ``unmask serve`` options)."""

    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None  # None: SQLite in data_dir
    model: str = "default"  # a bundled name, a checkpoint, or "auto" (speech and music parts routed)
    music_model: str | None = None  # with model "auto": the detector of music parts (None: not judged)
    device: str = "auto"
    workers: int = 1
    # Uploads: refused while streaming once over max_upload_bytes; audio longer than max_duration_s is
    # refused from its header (while streaming where the header says so) and again while decoding.
    max_upload_bytes: int = 1 * GIB
    max_duration_s: float = 3 * 3600.0
    max_queued: int = 1000  # queued jobs beyond this: 503, so a flood cannot fill the disk
    # Requests per minute per API key (a token bucket with this capacity); 0 switches it off.
    rate_limit_per_minute: int = 300
    # Requests without a valid key, per client address and minute, before 429 (0: no limit).
    failed_auth_per_minute: int = 120
    # Keep uploaded media after scoring for this many hours (0: delete as soon as it is scored).
    retention_hours: float = 0.0
    # Folders whose files POST /v1/scans may name by path ({"path": ...}); empty: path scans are off.
    path_roots: tuple[Path, ...] = ()
    # Origins allowed by CORS; empty (the default): no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    # A job whose worker died this many times (the server was killed mid-scan) is failed, not retried.
    max_attempts: int = 3
    poll_interval_s: float = 1.0  # how often idle workers look for jobs queued by another process

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.max_upload_bytes < 1:
            raise ValueError(f"max_upload_bytes must be >= 1, got {self.max_upload_bytes}")
        if self.max_duration_s <= 0:
            raise ValueError(f"max_duration_s must be > 0, got {self.max_duration_s}")
        if self.rate_limit_per_minute < 0:
            raise ValueError(f"rate_limit_per_minute must be >= 0, got {self.rate_limit_per_minute}")
        if self.failed_auth_per_minute < 0:
            raise ValueError(f"failed_auth_per_minute must be >= 0, got {self.failed_auth_per_minute}")
        if self.retention_hours < 0:
            raise ValueError(f"retention_hours must be >= 0, got {self.retention_hours}")
        self.path_roots = tuple(Path(p).resolve() for p in self.path_roots)
        self.cors_origins = tuple(self.cors_origins)

    @property
    def url(self) -> str:
        return self.db_url or default_db_url(self.data_dir)

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"
