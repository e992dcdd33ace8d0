"""``unmask serve``: an HTTP API, a web page and a pool of scoring workers over one :class:`unmask.Detector`.

The service scores through the same ``Detector.scan`` the CLI uses, so the two cannot disagree; its
``GET /v1/scans/{id}`` returns the same ScanResult JSON ``unmask scan --format json`` writes. Uploads are
queued in a SQL store (SQLite by default, PostgreSQL by URL; Alembic migrations) and scored by worker
threads, so the API answers while scoring runs and a restart resumes every queued or running job.
See ``docs/service.md``.
"""

from unmask.service.config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]


def create_app(*args, **kwargs):  # imported lazily: FastAPI is only needed when serving
    from unmask.service.app import create_app as _create_app

    return _create_app(*args, **kwargs)
