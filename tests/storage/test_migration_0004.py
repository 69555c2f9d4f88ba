"""Revision 0004 (approved scopes and connector scopes on sessions, ``skip_approval`` on
clients) during a rolling upgrade: rows the previous release writes into the new schema, without
the new columns, read back with the defaults (nothing approved, no connector scopes, approval
not skipped); and the downgrade to 0003 keeps the rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import sqlalchemy as sa
from alembic import command

from dex_py.config import StorageConfig
from dex_py.storage import migrate, open_storage
from dex_py.storage import models as m
from dex_py.storage.base import Client, Session
from dex_py.storage.codec import RowCodec
from dex_py.storage.engine import make_engine
from tests.storage import factories as f
from tests.storage.conftest import SQL_BACKENDS
from tests.storage.test_migration_0002 import alembic_at, revision_of

NEW_SESSION_FIELDS = ("approvals", "connector_scopes")


def insert_as_previous_release(conn: sa.Connection, table: sa.Table, row: dict) -> None:
    """Insert the way the release before 0004 does: only the columns it knows."""
    old = {k: v for k, v in row.items() if k not in (*NEW_SESSION_FIELDS, "skip_approval")}
    conn.execute(table.insert(), old)


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_previous_release_inserts_read_back_with_defaults(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    assert migrate.upgrade(cfg) == migrate.head_revision()
    session = f.session(claims=f.claims(user_id="u-old"))
    client = f.client(id="old-app")
    engine = make_engine(cfg)
    try:
        with engine.begin() as conn:
            row = RowCodec(Session).encode(session) | {"user_id": "u-old"}
            insert_as_previous_release(conn, m.session, row)
            insert_as_previous_release(conn, m.client, RowCodec(Client).encode(client))
    finally:
        engine.dispose()
    storage = open_storage(cfg, migrate=False)
    try:
        assert storage.get_session(session.id) == replace(
            session, approvals=(), connector_scopes=()
        )
        assert storage.get_client("old-app") == replace(client, skip_approval=False)
        # and the new code can record approvals on such a row
        approved = (f.session().approvals[0],)
        storage.update_session(session.id, lambda s: replace(s, approvals=approved))
        assert storage.get_session(session.id).approvals == approved
    finally:
        storage.close()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_downgrade_to_0003_and_back(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    storage = open_storage(cfg)
    session, client = f.session(), f.client(id="app")
    storage.create_session(session)
    storage.create_client(client)
    storage.close()
    engine = make_engine(cfg)
    try:
        with alembic_at(engine) as acfg:
            command.downgrade(acfg, "0003")
        assert revision_of(engine) == "0003"
        inspector = sa.inspect(engine)
        assert not {c["name"] for c in inspector.get_columns("session")} & set(NEW_SESSION_FIELDS)
        assert "skip_approval" not in {c["name"] for c in inspector.get_columns("client")}
        migrate.upgrade(cfg)
    finally:
        engine.dispose()
    storage = open_storage(cfg, migrate=False)
    try:
        got = storage.get_session(session.id)
        assert got == replace(session, approvals=(), connector_scopes=())
        assert storage.get_client("app") == replace(client, skip_approval=False)
    finally:
        storage.close()
