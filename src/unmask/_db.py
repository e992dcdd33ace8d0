"""Opening a SQL database, shared by the service's store and the bench's results store: one place that
turns a plain ``postgresql://`` URL into the driver unmask installs, sets SQLite up, and turns a bad URL
or an unreachable server into an error that says what to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from unmask.errors import UnmaskError


def normalise_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``) -> psycopg 3, the driver unmask installs."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def open_engine(url: str, *, what: str, example: str, prepare: Callable[[sa.Engine], None],
                shared_sqlite: bool = False) -> sa.Engine:
    """An engine on ``url`` after ``prepare(engine)`` (create or migrate the tables) has run.

    ``what`` names the database in errors ("the results store"), ``example`` is the URL a hint shows.
    ``shared_sqlite``: threads share one SQLite file (the service's API and workers), so connections
    may cross threads, wait for a writer instead of failing, and use WAL so readers never wait."""
    url = normalise_url(url)
    shared_file = shared_sqlite and url.startswith("sqlite")
    try:
        options: dict[str, Any] = {"pool_pre_ping": True}
        if shared_file:
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = sa.create_engine(url, **options)
        if shared_file:
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        prepare(engine)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise UnmaskError(f"not a usable database URL: {url!r} ({exc})",
                          hint=f"e.g. {example} or postgresql://user@host/db") from exc
    except sa.exc.OperationalError as exc:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise UnmaskError(f"cannot open {what} {shown} ({exc.orig})") from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the worker's writes
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
