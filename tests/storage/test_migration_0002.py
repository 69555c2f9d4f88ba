"""Revision 0002 (sessions, logout events, new client columns) applied to a database that
already holds data written at revision 0001: old rows keep working, with the dataclass defaults
in the new columns; and the downgrade back to 0001 keeps them too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext

from dex_py.config import StorageConfig
from dex_py.storage import migrate, open_storage
from dex_py.storage import models as m
from dex_py.storage.base import AuthCode, AuthRequest, Client, RefreshToken
from dex_py.storage.codec import RowCodec
from dex_py.storage.engine import SQLITE_LOCK_OPTION, make_engine
from tests.storage import factories as f
from tests.storage.conftest import SQL_BACKENDS

NEW_CLIENT_FIELDS = ("token_endpoint_auth_method", "jwks", "jwks_uri", "backchannel_logout_uri")


@contextmanager
def alembic_at(engine: sa.Engine) -> Iterator[Any]:
    """An alembic config bound to one connection of ``engine`` (committed at the end)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(**{SQLITE_LOCK_OPTION: True})
        cfg = migrate.alembic_config()
        cfg.attributes["connection"] = conn
        yield cfg
        conn.commit()


def revision_of(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def insert_as_0001(
    conn: sa.Connection, table: sa.Table, cls: type, obj: Any, **derived: Any
) -> None:
    """Insert ``obj`` the way revision-0001 code did: only the columns the table has (none
    added by 0002 or later)."""
    row = RowCodec(cls).encode(obj) | derived
    existing = {col["name"] for col in sa.inspect(conn).get_columns(table.name)}
    conn.execute(table.insert(), {k: v for k, v in row.items() if k in existing})


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_upgrade_from_0001_keeps_existing_rows(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    engine = make_engine(cfg)
    try:
        with alembic_at(engine) as acfg:
            command.upgrade(acfg, "0001")
        assert revision_of(engine) == "0001"
        assert "session" not in sa.inspect(engine).get_table_names()

        old_client = f.client(id="old-app")
        legacy: dict[str, Any] = {name: "" for name in NEW_CLIENT_FIELDS}
        legacy["skip_approval"] = False
        req, code = f.auth_request(), f.auth_code()
        token = f.refresh_token(claims=f.claims(user_id="u-old"))
        with engine.begin() as conn:
            insert_as_0001(conn, m.client, Client, old_client)
            insert_as_0001(conn, m.auth_request, AuthRequest, req)
            insert_as_0001(conn, m.auth_code, AuthCode, code)
            insert_as_0001(conn, m.refresh_token, RefreshToken, token, user_id="u-old")

        assert migrate.upgrade(cfg) == migrate.head_revision()
        assert revision_of(engine) == migrate.head_revision()
    finally:
        engine.dispose()

    storage = open_storage(cfg, migrate=False)
    try:
        got = storage.get_client("old-app")
        assert got == replace(old_client, **legacy)  # the new fields read back as defaults
        assert storage.list_clients() == [got]
        assert storage.get_auth_request(req.id) == replace(req, session_id="", acr_values="")
        assert storage.get_auth_code(code.id) == replace(code, session_id="")
        assert storage.list_refresh_tokens(user_id="u-old") == [
            replace(token, session_id="", successor_sealed="", retired_token_hashes=())
        ]

        # old clients can take the new settings, and new rows fit next to the old ones
        updated = storage.update_client(
            "old-app", lambda c: replace(c, backchannel_logout_uri="https://old.example/bc")
        )
        assert storage.get_client("old-app") == updated
        storage.create_client(f.client(id="new-app"))
        assert [c.id for c in storage.list_clients()] == ["new-app", "old-app"]
        s = f.session()
        storage.create_session(s)
        assert storage.get_session(s.id) == s
        e = f.logout_event()
        storage.create_logout_event(e)
        assert storage.list_logout_events() == [e]
    finally:
        storage.close()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_downgrade_to_0001_and_back(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    storage = open_storage(cfg)
    c = f.client(id="app")
    storage.create_client(c)
    storage.create_session(f.session())
    storage.close()
    engine = make_engine(cfg)
    try:
        with alembic_at(engine) as acfg:
            command.downgrade(acfg, "0001")
        assert revision_of(engine) == "0001"
        inspector = sa.inspect(engine)
        assert not {"session", "logout_event"} & set(inspector.get_table_names())
        client_columns = {col["name"] for col in inspector.get_columns("client")}
        assert not client_columns & set(NEW_CLIENT_FIELDS)
        assert "session_id" not in {col["name"] for col in inspector.get_columns("auth_code")}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM client WHERE id = 'app'")).all() == [
                (c.name,)
            ]
        migrate.upgrade(cfg)
        assert revision_of(engine) == migrate.head_revision()
    finally:
        engine.dispose()
    storage = open_storage(cfg, migrate=False)
    try:
        legacy: dict[str, Any] = {name: "" for name in NEW_CLIENT_FIELDS}
        assert storage.get_client("app") == replace(c, skip_approval=False, **legacy)
        assert storage.list_sessions() == []
    finally:
        storage.close()
