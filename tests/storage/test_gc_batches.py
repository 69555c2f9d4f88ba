"""Garbage collection in batches: a backlog larger than a batch is collected completely, with
the right counts, unexpired rows stay, and on SQL no transaction deletes more than one batch
(so a million expired tokens never hold locks for longer than one batch takes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from dex_py.config import StorageConfig
from dex_py.storage import open_storage
from dex_py.storage.base import Storage
from dex_py.storage.sql import SQLStorage
from tests.storage import factories as f
from tests.storage.factories import T0

BATCH = 3
NOW = T0 + timedelta(hours=1)
PAST, FUTURE = NOW - timedelta(seconds=1), NOW + timedelta(seconds=1)


def _small_batches(storage: Storage) -> None:
    if isinstance(storage, SQLStorage):
        storage.gc_batch_size = BATCH
        storage.gc_batch_pause = 0


def _backlog(storage: Storage, expired: dict[str, int]) -> list[str]:
    """Expired rows of each kind (as many as ``expired`` says), plus some that stay; returns
    the ids of the refresh tokens that must stay."""
    for i in range(expired["refresh_tokens"]):
        storage.create_refresh_token(f.refresh_token(expiry=PAST - timedelta(minutes=i)))
    keep = [f.refresh_token(expiry=FUTURE), f.refresh_token(expiry=None)]
    for token in keep:
        storage.create_refresh_token(token)
    for _ in range(expired["sessions"]):
        storage.create_session(f.session(expiry=PAST))
    storage.create_session(f.session(id="sess-kept", expiry=FUTURE))
    for i in range(expired["revoked_tokens"]):
        storage.revoke_access_token(f"jti-{i}", PAST)
    storage.revoke_access_token("jti-kept", FUTURE)
    for _ in range(expired["auth_codes"]):
        storage.create_auth_code(f.auth_code(expiry=PAST))
    for _ in range(expired["auth_requests"]):
        storage.create_auth_request(f.auth_request(expiry=PAST))
    return [t.id for t in keep]


# more than a batch, exactly two batches, less than one, one, none
EXPIRED = {
    "refresh_tokens": 2 * BATCH + 1,
    "sessions": 2 * BATCH,
    "revoked_tokens": BATCH - 1,
    "auth_codes": 1,
    "auth_requests": 0,
}


def test_a_backlog_larger_than_a_batch_is_collected(storage: Storage) -> None:
    _small_batches(storage)
    kept = _backlog(storage, EXPIRED)

    result = storage.garbage_collect(NOW)

    assert {name: getattr(result, name) for name in EXPIRED} == EXPIRED
    assert result.total == sum(EXPIRED.values())
    assert sorted(t.id for t in storage.list_refresh_tokens()) == sorted(kept)
    assert [s.id for s in storage.list_sessions()] == ["sess-kept"]
    assert storage.is_access_token_revoked("jti-kept")
    assert not storage.is_access_token_revoked("jti-0")
    assert storage.garbage_collect(NOW).total == 0


@pytest.fixture
def sql_storage(sql_config: StorageConfig) -> Iterator[SQLStorage]:
    storage = open_storage(sql_config)
    assert isinstance(storage, SQLStorage)
    yield storage
    storage.close()


def test_no_transaction_deletes_more_than_a_batch(sql_storage: SQLStorage) -> None:
    """Counted with SQLAlchemy events: the rows each DELETE removed, per transaction."""
    _small_batches(sql_storage)
    _backlog(sql_storage, EXPIRED)
    per_transaction: list[int] = []
    pending = [0]

    def after_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            pending[0] += cursor.rowcount

    def on_commit(conn: Any) -> None:
        per_transaction.append(pending[0])
        pending[0] = 0

    engine = sql_storage.engine
    sa.event.listen(engine, "after_cursor_execute", after_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        result = sql_storage.garbage_collect(NOW)
    finally:
        sa.event.remove(engine, "after_cursor_execute", after_execute)
        sa.event.remove(engine, "commit", on_commit)

    assert result.total == sum(EXPIRED.values())
    assert sum(per_transaction) == result.total
    assert max(per_transaction) == BATCH
    # each kind: full batches, then one short batch that ends it
    assert len([n for n in per_transaction if n]) == sum(-(-n // BATCH) for n in EXPIRED.values())


def test_in_memory_sqlite_collects_in_batches_too() -> None:
    """One shared connection (``StaticPool``): each batch takes it in turn."""
    storage = open_storage(StorageConfig("sqlite3", {"file": ":memory:"}))
    assert isinstance(storage, SQLStorage)
    try:
        _small_batches(storage)
        kept = _backlog(storage, EXPIRED)
        result = storage.garbage_collect(NOW)
        assert {name: getattr(result, name) for name in EXPIRED} == EXPIRED
        assert sorted(t.id for t in storage.list_refresh_tokens()) == sorted(kept)
    finally:
        storage.close()
