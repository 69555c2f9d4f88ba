"""What the SQL store does beyond the contract, on SQLite, PostgreSQL and MariaDB: its table,
its indexes and binary column, one row per session under concurrent writers, expired rows kept
out of answers, and database waits that never stall the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from dex_py.proxy.store import open_store
from dex_py.proxy.store_base import StoredSession
from tests.proxy_store.conftest import Backend, backend_for


def session(session_id: str = "s-1", subject: str = "alice", ttl: float = 3600) -> StoredSession:
    return StoredSession(session_id, subject, "", b"data", time.time() + ttl)


@contextmanager
def engine_for(backend: Backend) -> Iterator[sa.Engine]:
    engine = sa.create_engine(backend.settings.url, poolclass=sa.pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def count_rows(backend: Backend, where: str = "1=1") -> int:
    with engine_for(backend) as engine, engine.connect() as conn:
        query = f"SELECT COUNT(*) FROM {backend.settings.table} WHERE {where}"
        return int(conn.exec_driver_sql(query).scalar_one())


def test_the_table_is_created_with_its_indexes_and_a_binary_column(sql_backend: Backend) -> None:
    async def scenario() -> None:
        store = sql_backend.open()
        await store.get("nothing")  # first use creates the table
        await store.close()

    asyncio.run(scenario())
    table = sql_backend.settings.table
    with engine_for(sql_backend) as engine:
        inspector = sa.inspect(engine)
        assert inspector.get_pk_constraint(table)["constrained_columns"] == ["id"]
        indexed = {tuple(index["column_names"]) for index in inspector.get_indexes(table)}
        assert {("subject",), ("issuer_sid",), ("expires_at",)} <= indexed
        types = {column["name"]: str(column["type"]) for column in inspector.get_columns(table)}
    assert types["data"] in {"BLOB", "BYTEA", "LONGBLOB"}


def test_expired_rows_stay_out_of_answers_until_purged(sql_backend: Backend) -> None:
    async def scenario() -> None:
        store = sql_backend.open()
        await store.put(session("old", ttl=-30))
        await store.put(session("live"))
        assert count_rows(sql_backend) == 2
        assert await store.get("old") is None
        assert await store.purge_expired() == 1
        assert count_rows(sql_backend) == 1
        await store.close()

    asyncio.run(scenario())


def test_concurrent_puts_from_two_stores_keep_one_row(sql_backend: Backend) -> None:
    async def scenario() -> None:
        stores = [sql_backend.open(), sql_backend.open()]
        await asyncio.gather(
            *(stores[i % 2].put(session("shared", f"user-{i}")) for i in range(24))
        )
        assert count_rows(sql_backend, "1=1") == 1
        for store in stores:
            await store.close()

    asyncio.run(scenario())


def test_fields_no_column_can_hold_are_refused_before_the_database(
    sql_backend: Backend,
) -> None:
    async def scenario() -> None:
        store = sql_backend.open()
        with pytest.raises(ValueError, match="subject"):
            await store.put(session(subject="s" * 256))
        with pytest.raises(ValueError, match="id"):
            await store.put(session("i" * 129))
        with pytest.raises(ValueError, match="subject"):
            await store.put(session(subject="a\x00b"))
        longest = StoredSession("i" * 128, "é" * 255, "d" * 255, b"", time.time() + 60)
        await store.put(longest)
        assert await store.get(longest.id) == longest
        assert await store.get("i" * 129) is None
        assert await store.get("i\x00") is None
        assert await store.delete_for(subject="é\x00") == 0
        assert await store.delete_for(issuer_sid="d" * 256) == 0
        assert await store.get(longest.id) == longest
        await store.close()

    asyncio.run(scenario())


@contextmanager
def table_locked(backend: Backend) -> Iterator[Callable[[], None]]:
    """Holds a lock that makes every other writer of the table wait, from a thread of its
    own; yields the function that releases it (released at the latest after 20 s, so a store
    that blocks the event loop fails the test rather than hanging it)."""
    locked, release = threading.Event(), threading.Event()
    table = backend.settings.table

    def hold() -> None:
        if backend.name == "sqlite":
            path = sa.make_url(backend.settings.url).database or ""
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(20)
            conn.execute("COMMIT")
            conn.close()
            return
        with engine_for(backend) as engine, engine.connect() as sa_conn:
            if backend.name == "postgres":
                sa_conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            else:
                sa_conn.exec_driver_sql(f"LOCK TABLES {table} WRITE")
            locked.set()
            release.wait(20)
            if backend.name == "mysql":
                sa_conn.exec_driver_sql("UNLOCK TABLES")
            sa_conn.commit()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(20)
    try:
        yield release.set
    finally:
        release.set()
        holder.join()


def test_a_waiting_database_does_not_stall_the_event_loop(sql_backend: Backend) -> None:
    async def scenario() -> None:
        store = sql_backend.open()
        await store.put(session())
        with table_locked(sql_backend) as unlock:
            pending = asyncio.create_task(store.put(session(subject="bob")))
            ticks = 0
            while ticks < 50 and not pending.done():
                await asyncio.sleep(0.005)  # the loop keeps serving other work
                ticks += 1
            assert ticks == 50 and not pending.done()
            unlock()
            await pending
            answer = await store.get("s-1")
            assert answer is not None and answer.subject == "bob"
        await store.close()

    asyncio.run(scenario())


@pytest.mark.postgres
def test_connections_the_server_closed_are_replaced_without_an_error(tmp_path: Path) -> None:
    with backend_for("postgres", tmp_path) as backend:
        name = f"dexpy-store-{uuid.uuid4().hex[:8]}"
        url = sa.make_url(backend.settings.url).update_query_dict({"application_name": name})
        settings = replace(backend.settings, url=url.render_as_string(hide_password=False))

        async def scenario() -> None:
            store = open_store(settings)
            await store.put(session())
            with engine_for(backend) as engine, engine.begin() as conn:
                killed = conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                ).scalar_one()
            assert killed >= 1  # the store's pooled connection is gone
            assert await store.get("s-1") is not None
            await store.close()

        asyncio.run(scenario())
