"""Rolling upgrades: every migration keeps the previous release working against the new schema.

For each revision N of the chain (found by alembic, so new revisions are checked without
touching this file) and each SQL database: migrate to N-1 and note the tables and columns the
previous release knows; migrate to N; check none of them is gone; insert one row into each of
those tables naming only those columns, as the previous release does; then migrate to head and
read each row back with the current code, which must see the previous release's values and the
dataclass defaults in the fields it did not write.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from dex_py.config import StorageConfig
from dex_py.storage import migrate, open_storage
from dex_py.storage import models as m
from dex_py.storage.base import Storage
from dex_py.storage.engine import make_engine
from dex_py.storage.sql_entities import (
    AUTH_CODE,
    AUTH_REQUEST,
    CLIENT,
    CONNECTOR,
    DEVICE_REQUEST,
    KEYS_CODEC,
    LOGOUT_EVENT,
    PASSWORD,
    REFRESH,
    SESSION,
    Entity,
)
from tests.storage import factories as f
from tests.storage.conftest import SQL_BACKENDS
from tests.storage.test_migration_0002 import alembic_at


def _steps() -> list[Any]:
    """(previous, revision) for every revision that has a previous one, oldest first."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    steps = [
        pytest.param(s.down_revision, s.revision, id=f"{s.down_revision}-{s.revision}")
        for s in scripts.walk_revisions()
        if isinstance(s.down_revision, str)
    ]
    return steps[::-1]


STEPS = _steps()


@dataclass
class Sample:
    """A row as the current code writes it, and how the current code reads it back."""

    obj: Any
    row: dict[str, Any]
    read: Callable[[Storage], Any]


def _entity_sample(ent: Entity[Any], obj: Any, getter: str) -> Sample:
    key = ent.key_of(obj)
    return Sample(obj, ent.row(obj), lambda s: getattr(s, getter)(key))


def samples() -> dict[str, Sample]:
    jti = f.uid("jti-")
    keys = f.keys()
    out = {
        ent.table.name: _entity_sample(ent, obj, getter)
        for ent, obj, getter in (
            (AUTH_REQUEST, f.auth_request(), "get_auth_request"),
            (AUTH_CODE, f.auth_code(), "get_auth_code"),
            (REFRESH, f.refresh_token(), "get_refresh_token"),
            (PASSWORD, f.password(), "get_password"),
            (CLIENT, f.client(), "get_client"),
            (CONNECTOR, f.connector(), "get_connector"),
            (SESSION, f.session(), "get_session"),
            (LOGOUT_EVENT, f.logout_event(), "get_logout_event"),
            (DEVICE_REQUEST, f.device_request(), "get_device_request"),
        )
    }
    out["keys"] = Sample(
        keys, KEYS_CODEC.encode(keys) | {"id": m.KEYS_ROW_ID}, lambda s: s.get_keys()
    )
    out["revoked_access_token"] = Sample(
        True, {"jti": jti, "expiry": f.T0}, lambda s: s.is_access_token_revoked(jti)
    )
    return out


def _generic_row(table: sa.Table) -> dict[str, Any]:
    """Values for every required column of a table no sample covers yet."""
    values: dict[str, Any] = {}
    for col in table.columns:
        if col.nullable or col.server_default is not None:
            continue
        python_type = col.type.python_type
        values[col.name] = {
            str: uuid.uuid4().hex,
            int: 1,
            bool: False,
            bytes: b"x",
        }.get(python_type, f.T0)
    return values


def _expected(obj: Any, unwritten: set[str]) -> Any:
    """``obj`` with the fields the previous release did not write at their defaults."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return obj
    defaults = {}
    for field in dataclasses.fields(obj):
        if field.name not in unwritten:
            continue
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
        else:
            raise AssertionError(f"{type(obj).__name__}.{field.name} has no default")
    return dataclasses.replace(obj, **defaults)


def _columns(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {
        table: {col["name"] for col in inspector.get_columns(table)}
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


@pytest.mark.parametrize("kind", SQL_BACKENDS)
@pytest.mark.parametrize(("previous", "revision"), STEPS)
def test_previous_release_works_on_the_new_schema(
    kind: str, previous: str, revision: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    cfg = fresh_config(kind)
    engine = make_engine(cfg)
    try:
        with alembic_at(engine) as acfg:
            command.upgrade(acfg, previous)
        known = _columns(engine)
        with alembic_at(engine) as acfg:
            command.upgrade(acfg, revision)
        now = _columns(engine)
        for table, columns in known.items():
            assert table in now, f"{revision} drops or renames table {table}"
            assert columns <= now[table], f"{revision} drops {columns - now[table]} of {table}"

        rows = samples()
        generic: dict[str, dict[str, Any]] = {}
        with engine.begin() as conn:
            for table, columns in known.items():
                model = m.metadata.tables[table]
                if table in rows:
                    row = rows[table].row
                else:
                    row = generic[table] = _generic_row(model)
                old_row = {k: v for k, v in row.items() if k in columns}
                try:
                    conn.execute(model.insert(), old_row)
                except sa.exc.DBAPIError as exc:
                    pytest.fail(
                        f"after {revision}, the previous release cannot insert into {table}: "
                        f"{exc.orig}"
                    )
    finally:
        engine.dispose()

    storage = open_storage(cfg)  # migrates to head: the current code's schema
    try:
        for table, columns in known.items():
            if table in rows:
                sample = rows[table]
                unwritten = set(sample.row) - columns
                assert sample.read(storage) == _expected(sample.obj, unwritten), table
            else:  # a table without a sample yet: the current column types read it
                with storage.engine.connect() as conn:  # type: ignore[attr-defined]
                    assert len(conn.execute(sa.select(m.metadata.tables[table])).all()) == 1
    finally:
        storage.close()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_0003_gives_defaults_to_a_database_migrated_by_the_first_0002(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    """0002 as first released added its columns without server defaults; 0003 adds them."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from tests.storage.test_migration_0002 import NEW_CLIENT_FIELDS

    first_0002 = {t: ("session_id",) for t in ("auth_request", "auth_code", "refresh_token")}
    first_0002["client"] = NEW_CLIENT_FIELDS
    cfg = fresh_config(kind)
    engine = make_engine(cfg)
    try:
        with alembic_at(engine) as acfg:
            command.upgrade(acfg, "0002")
        with engine.begin() as conn:  # back to the schema the first 0002 made
            ops = Operations(MigrationContext.configure(conn))
            for table, names in first_0002.items():
                with ops.batch_alter_table(table) as batch:
                    for name in names:
                        col = m.metadata.tables[table].c[name]
                        batch.alter_column(
                            name,
                            existing_type=col.type,
                            existing_nullable=False,
                            server_default=None,
                        )
        no_defaults = [c for c in sa.inspect(engine).get_columns("client") if c["default"]]
        assert {c["name"] for c in no_defaults}.isdisjoint(NEW_CLIENT_FIELDS)
        with alembic_at(engine) as acfg:
            command.upgrade(acfg, "0003")
        inspector = sa.inspect(engine)
        for table, names in first_0002.items():
            defaults = {c["name"]: c["default"] for c in inspector.get_columns(table)}
            assert all(defaults[name] for name in names), (table, defaults)
        client = f.client()
        with engine.begin() as conn:  # the release before 0002 inserts a client
            old_columns = {c["name"] for c in sa.inspect(conn).get_columns("client")}
            old_columns -= set(NEW_CLIENT_FIELDS)
            conn.execute(
                m.client.insert(),
                {k: v for k, v in CLIENT.row(client).items() if k in old_columns},
            )
    finally:
        engine.dispose()
    storage = open_storage(cfg)  # migrates to head: the current code's schema
    try:
        unwritten = set(CLIENT.row(client)) - old_columns
        assert storage.get_client(client.id) == _expected(client, unwritten)
    finally:
        storage.close()
