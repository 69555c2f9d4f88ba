"""open_store: settings it cannot use are StoreConfigError naming the config key, a backend
that is not there is StoreUnavailable; neither ever shows a password from the URL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from dex_py.proxy.store import open_store
from dex_py.proxy.store_base import StoreConfigError, StoredSession, StoreSettings, StoreUnavailable
from dex_py.proxy.store_memory import MemoryStore
from dex_py.proxy.store_redis import RedisStore
from dex_py.proxy.store_sql import SQLStore
from tests.services import MYSQL_URL, POSTGRES_URL, free_port, require_service

PASSWORD = "pw-s3cret-91"


def test_open_store_picks_the_backend_the_settings_name(tmp_path: Path) -> None:
    assert isinstance(open_store(StoreSettings("memory")), MemoryStore)
    sql = open_store(StoreSettings("sql", f"sqlite:///{tmp_path}/s.db"))
    assert isinstance(sql, SQLStore)
    redis_store = open_store(StoreSettings("redis", "redis://127.0.0.1:6379/0"))
    assert isinstance(redis_store, RedisStore)

    async def close() -> None:
        await sql.close()
        await redis_store.close()

    asyncio.run(close())


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        (StoreSettings("bogus"), "session.store"),
        (StoreSettings(""), "session.store"),
        (StoreSettings("cookie"), "session.store"),
        (StoreSettings("sql", ""), "session.sql.url"),
        (StoreSettings("sql", "not a url"), "session.sql.url"),
        (StoreSettings("sql", f"mssql+pyodbc://sa:{PASSWORD}@db/x"), "session.sql.url"),
        (StoreSettings("sql", f"nosuchdb://u:{PASSWORD}@h/db"), "session.sql.url"),
        (StoreSettings("sql", f"postgresql+asyncpg://u:{PASSWORD}@h/db"), "session.sql.url"),
        (StoreSettings("sql", "postgresql+nosuchdriver://u@h/db"), "session.sql.url"),
        (StoreSettings("sql", f"postgresql+psycopg://u:{PASSWORD}@h:port/db"), "session.sql.url"),
        (StoreSettings("sql", "sqlite://"), "session.sql.url"),
        (StoreSettings("sql", "sqlite:///:memory:"), "session.sql.url"),
        (StoreSettings("sql", "sqlite:////nonexistent-dir-dexpy/s.db"), "session.sql.url"),
        (StoreSettings("sql", "sqlite:////tmp/s.db", table="s; DROP TABLE x"), "session.sql.table"),
        (StoreSettings("sql", "sqlite:////tmp/s.db", table=""), "session.sql.table"),
        (StoreSettings("sql", "sqlite:////tmp/s.db", table="t" * 41), "session.sql.table"),
        (StoreSettings("redis", ""), "session.redis.url"),
        (StoreSettings("redis", f"http://u:{PASSWORD}@127.0.0.1:6379"), "session.redis.url"),
        (StoreSettings("redis", "redis://127.0.0.1:6379/sessions"), "session.redis.url"),
        (StoreSettings("redis", f"redis://:{PASSWORD}@127.0.0.1:99999/0"), "session.redis.url"),
        (StoreSettings("redis", "redis://h:6379/0", key_prefix=""), "session.redis.keyPrefix"),
    ],
)
def test_unusable_settings_name_their_key(settings: StoreSettings, key: str) -> None:
    with pytest.raises(StoreConfigError) as caught:
        open_store(settings)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert PASSWORD not in str(caught.value)


def test_plain_backend_names_use_the_projects_drivers() -> None:
    for plain in ("postgresql://u@h/db", "postgres://u@h/db", "mysql://u@h/db", "mariadb://u@h/db"):
        store = open_store(StoreSettings("sql", plain))
        assert isinstance(store, SQLStore)
        asyncio.run(store.close())


def _closed_port_urls() -> list[tuple[str, StoreSettings]]:
    port = free_port()
    pg = sa.make_url(POSTGRES_URL).set(port=port, password=PASSWORD)
    my = sa.make_url(MYSQL_URL).set(port=port, password=PASSWORD)
    return [
        ("postgres", StoreSettings("sql", pg.render_as_string(hide_password=False))),
        ("mysql", StoreSettings("sql", my.render_as_string(hide_password=False))),
        ("redis", StoreSettings("redis", f"redis://default:{PASSWORD}@127.0.0.1:{port}/0")),
    ]


@pytest.mark.parametrize("kind", ["postgres", "mysql", "redis"])
def test_a_server_that_is_not_there_is_unavailable(kind: str) -> None:
    settings = dict(_closed_port_urls())[kind]
    stored = StoredSession("s-1", "alice", "sid", b"x", time.time() + 60)

    async def scenario() -> list[StoreUnavailable]:
        store = open_store(settings)  # opening does not connect
        failures = []
        for operation in (
            store.put(stored),
            store.get("s-1"),
            store.delete("s-1"),
            store.delete_for(subject="alice"),
            store.purge_expired(),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await operation
            failures.append(caught.value)
        await store.close()
        return failures

    for failure in asyncio.run(scenario()):
        message = str(failure)
        assert "unavailable" in message
        assert "127.0.0.1" in message
        assert PASSWORD not in message
        assert failure.__cause__ is None and failure.__suppress_context__


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_unavailable() -> None:
    url = sa.make_url(POSTGRES_URL)
    require_service("PostgreSQL", url.host or "127.0.0.1", url.port or 5432)
    missing = url.set(database="dexpy_no_such_db", password=PASSWORD)
    store = open_store(StoreSettings("sql", missing.render_as_string(hide_password=False)))

    async def scenario() -> None:
        with pytest.raises(StoreUnavailable, match="dexpy_no_such_db") as caught:
            await store.get("s-1")
        assert PASSWORD not in str(caught.value)
        await store.close()

    asyncio.run(scenario())


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    garbage = tmp_path / "sessions.db"
    garbage.write_bytes(b"this is not SQLite " * 200)
    store = open_store(StoreSettings("sql", f"sqlite:///{garbage}"))

    async def scenario() -> None:
        with pytest.raises(StoreUnavailable, match=r"sessions\.db"):
            await store.get("s-1")
        await store.close()

    asyncio.run(scenario())
