"""Migrations: upgrade reaches head, is idempotent, matches the table definitions, and fails
with a clear message (never the password) when the database is unreachable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from dex_py.config import StorageConfig
from dex_py.resources import resource_dir
from dex_py.storage import migrate, open_storage
from dex_py.storage.engine import make_engine
from dex_py.storage.models import ALL_TABLES, metadata
from tests.services import free_port
from tests.storage.conftest import SQL_BACKENDS


def test_revision_files_are_date_prefixed() -> None:
    files = sorted(p.name for p in (resource_dir("migrations") / "versions").glob("*.py"))
    assert files
    for name in files:
        year, month, day, *_ = name.split("_")
        assert len(year) == 4 and len(month) == 2 and len(day) == 2, name
        assert (year + month + day).isdigit(), name


def test_memory_upgrade_is_a_no_op() -> None:
    assert migrate.upgrade(StorageConfig("memory", {})) == ""


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_upgrade_twice_is_a_no_op(kind: str, fresh_config: Callable[[str], StorageConfig]) -> None:
    cfg = fresh_config(kind)
    engine = make_engine(cfg)
    try:
        assert migrate.current_revision(engine) is None
        head = migrate.upgrade(cfg)
        assert head == migrate.head_revision()
        assert migrate.current_revision(engine) == head
        names = set(sa.inspect(engine).get_table_names())
        assert {t.name for t in ALL_TABLES} | {"alembic_version"} <= names
        assert migrate.upgrade(cfg) == head
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(head,)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", SQL_BACKENDS)
def test_migrated_schema_matches_table_definitions(
    kind: str, fresh_config: Callable[[str], StorageConfig]
) -> None:
    storage = open_storage(fresh_config(kind))
    engine = storage.engine  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff = compare_metadata(ctx, metadata)
        assert diff == []
    finally:
        storage.close()


def test_unreachable_database_names_host_not_password() -> None:
    port = free_port()
    cfg = StorageConfig(
        "postgres",
        {
            "host": "127.0.0.1",
            "port": port,
            "database": "dex",
            "user": "dex",
            "password": "s3cret-pw",
            "ssl": {"mode": "disable"},
            "connectionTimeout": 2,
        },
    )
    with pytest.raises(migrate.MigrationError) as info:
        migrate.upgrade(cfg)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "s3cret-pw" not in message
    assert "s3cret-pw" not in repr(info.value.__cause__)


def test_bad_config_is_a_migration_error() -> None:
    with pytest.raises(migrate.MigrationError, match=r"storage\.config\.host: required"):
        migrate.upgrade(StorageConfig("postgres", {"database": "dex"}))


def test_sqlite_in_memory_opens_migrated() -> None:
    storage = open_storage(StorageConfig("sqlite3", {"file": ":memory:"}))
    assert storage.list_clients() == []
    assert migrate.current_revision(storage.engine) == migrate.head_revision()  # type: ignore[attr-defined]
    storage.close()
