"""What the Redis store keeps beyond the contract: sessions that Redis itself expires, and
per-subject and per-sid index sets that follow every change, drop expired ids and expire with
their last session, all under the configured key prefix."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from dex_py.proxy.store_base import StoredSession
from tests.proxy_store.conftest import Backend


def session(
    session_id: str, subject: str = "alice", sid: str = "", ttl: float = 3600
) -> StoredSession:
    return StoredSession(session_id, subject, sid, b"data", time.time() + ttl)


@pytest.fixture
def raw(redis_backend: Backend) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_backend.settings.url) as client:
        yield client


def keys(client: redis.Redis, prefix: str) -> set[str]:
    return {key.decode()[len(prefix) :] for key in client.scan_iter(match=f"{prefix}*")}


def members(client: redis.Redis, key: str) -> set[str]:
    return {member.decode() for member in client.zrange(key, 0, -1)}


def run_with_store(backend: Backend, *steps: StoredSession | str) -> None:
    """Puts the sessions, deletes the ids given as strings, in order."""

    async def scenario() -> None:
        store = backend.open()
        for step in steps:
            if isinstance(step, str):
                await store.delete(step)
            else:
                await store.put(step)
        await store.close()

    asyncio.run(scenario())


def test_sessions_and_their_indexes_live_under_the_prefix(
    redis_backend: Backend, raw: redis.Redis
) -> None:
    prefix = redis_backend.settings.key_prefix
    run_with_store(redis_backend, session("a-1", "alice", "sid-1"), session("b-1", "bob"))
    assert keys(raw, prefix) == {
        "session:a-1",
        "session:b-1",
        "subject:alice",
        "subject:bob",
        "sid:sid-1",
    }
    assert members(raw, f"{prefix}subject:alice") == {"a-1"}
    assert members(raw, f"{prefix}sid:sid-1") == {"a-1"}


def test_sessions_and_index_sets_expire_in_redis(redis_backend: Backend, raw: redis.Redis) -> None:
    prefix = redis_backend.settings.key_prefix
    run_with_store(
        redis_backend,
        session("a-1", "alice", "sid-1", ttl=100),
        session("a-2", "alice", "sid-1", ttl=1000),
        session("a-3", "alice", "sid-1", ttl=50),  # a shorter session never shortens the set
    )
    assert 0 < raw.pttl(f"{prefix}session:a-1") <= 100_000
    assert 100_000 < raw.pttl(f"{prefix}session:a-2") <= 1_000_000
    for index in ("subject:alice", "sid:sid-1"):
        assert 100_000 < raw.pttl(f"{prefix}{index}") <= 1_000_000, index


def test_replacing_a_session_moves_it_between_index_sets(
    redis_backend: Backend, raw: redis.Redis
) -> None:
    prefix = redis_backend.settings.key_prefix
    run_with_store(
        redis_backend,
        session("s-1", "alice", "sid-a"),
        session("s-2", "alice", "sid-a"),
        session("s-1", "bob", "sid-b"),
    )
    assert members(raw, f"{prefix}subject:alice") == {"s-2"}
    assert members(raw, f"{prefix}sid:sid-a") == {"s-2"}
    assert members(raw, f"{prefix}subject:bob") == {"s-1"}
    assert members(raw, f"{prefix}sid:sid-b") == {"s-1"}


def test_delete_and_expired_puts_leave_no_index_entries(
    redis_backend: Backend, raw: redis.Redis
) -> None:
    prefix = redis_backend.settings.key_prefix
    run_with_store(
        redis_backend,
        session("s-1", "alice", "sid-a"),
        session("s-2", "bob", "sid-b"),
        "s-1",
        session("s-2", "bob", "sid-b", ttl=-1),
    )
    assert keys(raw, prefix) == set()


def test_writes_drop_expired_ids_from_the_index_they_touch(
    redis_backend: Backend, raw: redis.Redis
) -> None:
    prefix = redis_backend.settings.key_prefix
    long_gone_ms = int((time.time() - 600) * 1000)
    raw.zadd(f"{prefix}subject:alice", {"expired-1": long_gone_ms, "expired-2": long_gone_ms})
    run_with_store(redis_backend, session("s-1", "alice"))
    assert members(raw, f"{prefix}subject:alice") == {"s-1"}


def test_delete_for_counts_only_sessions_still_there_and_drops_the_set(
    redis_backend: Backend, raw: redis.Redis
) -> None:
    prefix = redis_backend.settings.key_prefix
    run_with_store(redis_backend, session("s-1", "alice", "sid-a"), session("s-2", "alice", ""))
    raw.delete(f"{prefix}session:s-1")  # as when Redis expires it

    async def scenario() -> int:
        store = redis_backend.open()
        try:
            return await store.delete_for(subject="alice")
        finally:
            await store.close()

    assert asyncio.run(scenario()) == 1
    assert keys(raw, prefix) == {"sid:sid-a"}  # expires with s-1's time; names nothing live
