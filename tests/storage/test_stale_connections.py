"""Pooled connections are checked only after sitting idle, and a dead one is replaced without
the caller noticing (``dex_py.storage.engine._ping_when_idle``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from dex_py.storage import engine as engine_module
from dex_py.storage import open_storage
from dex_py.storage.sql import SQLStorage
from tests.storage import factories as f
from tests.storage.conftest import SQL_BACKENDS, _session_config

NETWORK_BACKENDS = [b for b in SQL_BACKENDS if "sqlite" not in str(b)]


@pytest.fixture(params=NETWORK_BACKENDS)
def network_storage(request: pytest.FixtureRequest) -> Iterator[tuple[str, SQLStorage]]:
    kind = str(request.param)
    cfg = _session_config(
        kind, request.getfixturevalue("namespaces"), request.getfixturevalue("session_configs")
    )
    storage = open_storage(cfg, migrate=False)
    assert isinstance(storage, SQLStorage)
    yield kind, storage
    storage.close()


def _backend_id(storage: SQLStorage, kind: str) -> int:
    fn = "pg_backend_pid()" if "postgres" in kind else "CONNECTION_ID()"
    with storage.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT {fn}")).scalar_one())


def _kill(storage: SQLStorage, kind: str, backend_id: int) -> None:
    killer = sa.create_engine(storage.engine.url, poolclass=sa.pool.NullPool)
    stmt = (
        f"SELECT pg_terminate_backend({backend_id})" if "postgres" in kind else f"KILL {backend_id}"
    )
    with killer.connect() as conn:
        conn.execute(sa.text(stmt))
    killer.dispose()


def test_dead_idle_connection_is_replaced(
    network_storage: tuple[str, SQLStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, storage = network_storage
    token = f.refresh_token()
    storage.create_refresh_token(token)
    _kill(storage, kind, _backend_id(storage, kind))  # the pooled connection is now dead
    monkeypatch.setattr(engine_module, "IDLE_PING_AFTER", 0.0)  # it counts as idle
    assert storage.get_refresh_token(token.id) == token
    storage.delete_refresh_token(token.id)


def test_only_idle_connections_are_pinged(
    network_storage: tuple[str, SQLStorage], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, storage = network_storage
    pings: list[object] = []
    real_ping = engine_module.ping_connection

    def spy(dbapi_conn: object) -> None:
        pings.append(dbapi_conn)
        real_ping(dbapi_conn)

    monkeypatch.setattr(engine_module, "ping_connection", spy)
    storage.ping()  # a new connection has no last-use time: pinged
    assert len(pings) == 1
    for _ in range(3):
        storage.ping()  # back-to-back reuse: no liveness round trip
    assert len(pings) == 1
    monkeypatch.setattr(engine_module, "IDLE_PING_AFTER", 0.0)
    storage.ping()  # now it counts as idle
    assert len(pings) == 2
