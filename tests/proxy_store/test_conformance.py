"""Every session store (memory, SQLite, PostgreSQL, MariaDB, Redis) keeps the SessionStore
contract of dex_py.proxy.store_base the same way."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from dex_py.proxy.store_base import StoredSession, StoreUnavailable
from tests.proxy_store.conftest import Backend


def session(
    session_id: str = "s-1",
    subject: str = "alice",
    issuer_sid: str = "",
    data: bytes = b"payload",
    ttl: float = 3600,
) -> StoredSession:
    return StoredSession(session_id, subject, issuer_sid, data, time.time() + ttl)


def test_put_then_get_returns_the_session(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        stored = session(issuer_sid="sid-1")
        await store.put(stored)
        assert await store.get("s-1") == stored
        assert await store.get("s-2") is None
        await store.close()

    asyncio.run(scenario())


def test_ids_match_exactly(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("Abc"))
        assert await store.get("abc") is None
        assert await store.get("ABC") is None
        assert await store.get("Abc ") is None
        assert (await store.get("Abc")) is not None
        await store.close()

    asyncio.run(scenario())


def test_put_replaces_the_session_with_that_id(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session(subject="alice", issuer_sid="sid-a", data=b"old"))
        newer = session(subject="bob", issuer_sid="sid-b", data=b"new", ttl=7200)
        await store.put(newer)
        assert await store.get("s-1") == newer
        # The old owner's entries went with the old version of the session.
        assert await store.delete_for(subject="alice") == 0
        assert await store.delete_for(issuer_sid="sid-a") == 0
        assert await store.get("s-1") == newer
        assert await store.delete_for(subject="bob") == 1
        assert await store.get("s-1") is None
        await store.close()

    asyncio.run(scenario())


def test_delete_removes_one_session_and_tolerates_missing_ones(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("s-1"))
        await store.put(session("s-2"))
        await store.delete("s-1")
        await store.delete("s-1")
        await store.delete("never-there")
        assert await store.get("s-1") is None
        assert await store.get("s-2") is not None
        # A deleted session is gone from the indexes too.
        assert await store.delete_for(subject="alice") == 1
        await store.close()

    asyncio.run(scenario())


def test_delete_for_sid_removes_only_that_issuer_session(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("a-1", "alice", "sid-1"))
        await store.put(session("a-2", "alice", "sid-1"))
        await store.put(session("a-3", "alice", "sid-2"))
        await store.put(session("b-1", "bob", "sid-3"))
        assert await store.delete_for(issuer_sid="sid-1") == 2
        assert await store.get("a-1") is None
        assert await store.get("a-2") is None
        assert await store.get("a-3") is not None
        assert await store.get("b-1") is not None
        assert await store.delete_for(issuer_sid="sid-1") == 0
        await store.close()

    asyncio.run(scenario())


def test_delete_for_subject_removes_only_that_users_sessions(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("a-1", "alice", "sid-1"))
        await store.put(session("a-2", "alice", ""))
        await store.put(session("A-1", "Alice", "sid-2"))
        await store.put(session("b-1", "bob", "sid-3"))
        await store.put(session("x-1", "alice ", ""))
        assert await store.delete_for(subject="alice") == 2
        assert await store.get("a-1") is None
        assert await store.get("a-2") is None
        for kept in ("A-1", "b-1", "x-1"):
            assert await store.get(kept) is not None, kept
        # The sid index no longer names a-1.
        assert await store.delete_for(issuer_sid="sid-1") == 0
        assert await store.delete_for(issuer_sid="sid-2") == 1
        await store.close()

    asyncio.run(scenario())


def test_delete_for_without_subject_or_sid_removes_nothing(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("a-1", "alice", ""))
        await store.put(session("e-1", "", ""))
        assert await store.delete_for() == 0
        assert await store.delete_for(subject="", issuer_sid="") == 0
        assert await store.get("a-1") is not None
        assert await store.get("e-1") is not None
        await store.close()

    asyncio.run(scenario())


def test_expired_sessions_are_never_returned(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("old", ttl=-1))
        await store.put(session("live", ttl=60))
        assert await store.get("old") is None
        assert await store.get("live") is not None
        # Extending an expired session by putting it again brings it back.
        await store.put(session("old", ttl=60))
        assert await store.get("old") is not None
        # Putting an expired version ends a live one.
        await store.put(session("live", ttl=-5))
        assert await store.get("live") is None
        await store.close()

    asyncio.run(scenario())


def test_purge_expired_removes_expired_sessions_only(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session("old-1", ttl=-10))
        await store.put(session("old-2", "bob", "sid-9", ttl=-1))
        await store.put(session("live", ttl=600))
        purged = await store.purge_expired()
        # Redis drops expired sessions itself (it never keeps them): nothing left to purge.
        assert purged == (0 if backend.name == "redis" else 2)
        assert await store.purge_expired() == 0
        assert await store.get("live") is not None
        assert await store.delete_for(subject="bob") == 0
        assert await store.delete_for(subject="alice") == 1
        await store.close()

    asyncio.run(scenario())


def test_concurrent_puts_of_one_id_leave_one_consistent_session(backend: Backend) -> None:
    writers = 16

    async def scenario() -> None:
        store = backend.open()
        versions = [
            session("shared", f"user-{i}", f"sid-{i}", bytes([i]) * (i + 1)) for i in range(writers)
        ]
        await asyncio.gather(*(store.put(v) for v in versions))
        winner = await store.get("shared")
        assert winner in versions
        # Exactly one owner's indexes name the session: no writer left a stale entry.
        removed = [await store.delete_for(subject=f"user-{i}") for i in range(writers)]
        assert removed == [1 if v == winner else 0 for v in versions]
        assert await store.get("shared") is None
        await store.close()

    asyncio.run(scenario())


def test_binary_data_round_trips_every_byte_value(backend: Backend) -> None:
    data = bytes(range(256)) * 3 + b"\x00"

    async def scenario() -> None:
        store = backend.open()
        await store.put(session(data=data))
        got = await store.get("s-1")
        assert got is not None and got.data == data
        await store.put(session("empty", data=b""))
        empty = await store.get("empty")
        assert empty is not None and empty.data == b""
        await store.close()

    asyncio.run(scenario())


def test_large_data_round_trips(backend: Backend) -> None:
    data = os.urandom(200 * 1024)  # a session with thousands of groups

    async def scenario() -> None:
        store = backend.open()
        await store.put(session(data=data))
        got = await store.get("s-1")
        assert got is not None and got.data == data
        await store.close()

    asyncio.run(scenario())


def test_unicode_subjects_and_sids_round_trip(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        stored = session("u-1", "Zoë 東京 ✓", "sid-ü")
        await store.put(stored)
        assert await store.get("u-1") == stored
        assert await store.delete_for(issuer_sid="sid-ü") == 1
        await store.close()

    asyncio.run(scenario())


def test_close_can_be_called_twice(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.put(session())
        await store.close()
        await store.close()

    asyncio.run(scenario())


def test_operations_after_close_are_unavailable(shared_backend: Backend) -> None:
    async def scenario() -> None:
        store = shared_backend.open()
        await store.put(session())
        await store.close()
        with pytest.raises(StoreUnavailable, match="closed"):
            await store.get("s-1")
        with pytest.raises(StoreUnavailable, match="closed"):
            await store.put(session())

    asyncio.run(scenario())


def test_two_stores_on_one_backend_see_each_others_writes(shared_backend: Backend) -> None:
    """What makes several workers and replicas work: they share the sessions."""

    async def scenario() -> None:
        first, second = shared_backend.open(), shared_backend.open()
        # Both start at once (first use creates the SQL table: both must survive the race).
        await asyncio.gather(first.put(session("one")), second.put(session("two", "bob")))
        assert await second.get("one") == await first.get("one")
        assert await first.get("two") is not None
        await second.delete("one")
        assert await first.get("one") is None
        await first.put(session("three", "bob", "sid-b"))
        assert await second.delete_for(subject="bob") == 2
        assert await first.get("two") is None
        assert await first.get("three") is None
        await first.close()
        await second.close()

    asyncio.run(scenario())


def test_stores_in_separate_event_loops_share_sessions(shared_backend: Backend) -> None:
    """Workers are processes with loops of their own: a session written in one is read in
    another."""

    async def write() -> None:
        store = shared_backend.open()
        await store.put(session("cross", data=b"\x00\xff"))
        await store.close()

    async def read() -> StoredSession | None:
        store = shared_backend.open()
        try:
            return await store.get("cross")
        finally:
            await store.close()

    asyncio.run(write())
    got = asyncio.run(read())
    assert got is not None and got.data == b"\x00\xff"
