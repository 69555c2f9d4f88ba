"""On PostgreSQL the storage's pooled connections stay in autocommit: a read takes one as it
is (switching it on at checkout and off at checkin cost ~0.2 ms of CPU, `bench/pg_checkout.py`),
and a write asks for a transaction, so it is still all or nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from dex_py.storage.sql import SQLStorage
from tests.storage import factories as f

pytestmark = pytest.mark.postgres


@pytest.fixture
def switches(pg: SQLStorage, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every isolation level a pooled connection is switched to."""
    seen: list[str] = []
    dialect = type(pg.engine.dialect)
    real = dialect.set_isolation_level

    def counting(self: Any, dbapi_connection: Any, level: str) -> None:
        seen.append(level)
        real(self, dbapi_connection, level)

    monkeypatch.setattr(dialect, "set_isolation_level", counting)
    return seen


def _autocommit_of_each_statement(call: Any) -> list[bool]:
    modes: list[bool] = []

    def record(conn: sa.Connection, *rest: object) -> None:
        modes.append(bool(conn.connection.dbapi_connection.autocommit))  # type: ignore[union-attr]

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    return modes


def test_a_read_takes_a_pooled_connection_as_it_is(pg: SQLStorage, switches: list[str]) -> None:
    token = f.refresh_token()
    pg.create_refresh_token(token)
    switches.clear()
    modes = _autocommit_of_each_statement(lambda: pg.get_refresh_token(token.id))
    assert modes == [True]
    assert switches == []  # no switch at checkout, none back at checkin


def test_a_write_runs_in_a_transaction(pg: SQLStorage, switches: list[str]) -> None:
    code = f.auth_code()
    pg.create_auth_code(code)
    modes = _autocommit_of_each_statement(
        lambda: pg.update_auth_code(code.id, lambda c: replace(c, nonce="n2"))
    )
    assert modes and not any(modes)  # SELECT ... FOR UPDATE and UPDATE, inside BEGIN/COMMIT
    # and the pool gets the connection back in autocommit for the next read
    assert _autocommit_of_each_statement(lambda: pg.get_auth_code(code.id)) == [True]
