"""unmask._db: the one way the service's store and the bench's results store open a database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from unmask._db import normalise_url, open_engine
from unmask.errors import UnmaskError


def _nothing(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text("select 1"))


def test_plain_postgres_urls_get_the_installed_driver():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def test_a_bad_url_says_what_a_good_one_looks_like():
    with pytest.raises(UnmaskError, match="not a usable database URL") as caught:
        open_engine("nosuchdb://x", what="the results store", example="sqlite:///runs/x/results.sqlite",
                    prepare=_nothing)
    assert "sqlite:///runs/x/results.sqlite" in (caught.value.hint or "")


def test_a_database_that_cannot_be_opened_is_named(tmp_path):
    missing = tmp_path / "no-such-folder" / "results.sqlite"
    with pytest.raises(UnmaskError, match=r"cannot open the results store sqlite:///.*no-such-folder"):
        open_engine(f"sqlite:///{missing}", what="the results store", example="sqlite:///x", prepare=_nothing)


def test_a_shared_sqlite_file_uses_wal_so_readers_do_not_wait(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 's.sqlite'}", what="the service database",
                         example="sqlite:///x", prepare=_nothing, shared_sqlite=True)
    with engine.connect() as connection:
        assert connection.execute(sa.text("pragma journal_mode")).scalar() == "wal"
        assert connection.execute(sa.text("pragma foreign_keys")).scalar() == 1
    engine.dispose()
