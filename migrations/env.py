"""Alembic environment of dex-py.

Run programmatically by ``dex_py.storage.migrate`` with an open connection in
``config.attributes["connection"]`` (the caller holds the migration lock and commits). Also
usable from the ``alembic`` command line with ``-x url=<SQLAlchemy URL>`` or the
``DEXPY_DATABASE_URL`` environment variable, and in offline (``--sql``) mode.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from dex_py.storage.models import metadata

config = context.config


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "DEXPY_DATABASE_URL"
    )
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass -x url=... or set DEXPY_DATABASE_URL")
    return url


def _configure(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
