"""Alembic environment of the service store. Run through ``unmask.service.db.migrate`` (which passes an
open connection); ``alembic -x url=sqlite:///x.sqlite upgrade head`` with a config naming this folder works
too."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from unmask._db import normalise_url
from unmask.service.db import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: sa.Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
