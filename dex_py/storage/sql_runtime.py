"""Runtime-managed objects on SQL (issue 12): the change counter and the settings.

The counter is one row of ``change_counter``, incremented in place (``UPDATE ... SET value =
value + 1``: the row lock makes concurrent increments queue, none is lost) and read back in the
same transaction; ``generation`` is one primary-key ``SELECT``. A setting is one row of
``setting`` (JSON text and a version); ``put_setting`` is a single conditional statement: an
``INSERT`` for version 0 (the primary key refuses a second one), else an ``UPDATE`` matching the
expected version, so a stale writer changes nothing. On PostgreSQL a bump also notifies the
processes listening (``pg_notify``, ``on_change``). ``storage.sql.SQLStorage`` inherits it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from dex_py.storage import models as m
from dex_py.storage.base import ConflictError
from dex_py.storage.pg_notify import NOTIFY, ChangeListener
from dex_py.storage.sql_transactions import SQLTransactions, retryable

_cc = m.change_counter.c
COUNTER_SELECT = sa.select(_cc.value).where(_cc.id == m.COUNTER_ROW_ID)
COUNTER_BUMP = (
    m.change_counter.update().where(_cc.id == m.COUNTER_ROW_ID).values(value=_cc.value + 1)
)
COUNTER_FIRST = m.change_counter.insert().values(id=m.COUNTER_ROW_ID, value=1)
_st = m.setting.c
SETTING_SELECT = sa.select(_st.value, _st.version).where(_st.id == sa.bindparam("b_key"))
SETTING_SWAP = (
    m.setting.update()
    .where(_st.id == sa.bindparam("b_key"), _st.version == sa.bindparam("b_version"))
    .values(value=sa.bindparam("b_value"), version=_st.version + 1)
)
# The counter row created by two processes at once (only after its row was deleted: the
# migration creates it): the loser's insert fails, or deadlocks on MySQL; it bumps again.
BUMP_ATTEMPTS = 5


class SQLRuntimeObjects(SQLTransactions):
    """``generation``, ``bump_generation``, ``get_setting``, ``put_setting`` (see above)."""

    def generation(self) -> int:
        with self._read() as conn:
            value = conn.execute(COUNTER_SELECT).scalar()
        return int(value or 0)

    _listener: ChangeListener | None = None

    def on_change(self, callback: Callable[[], None]) -> None:
        """PostgreSQL: call ``callback`` soon after any process bumps the counter (from a
        thread of this process; see ``storage.pg_notify``). Other databases: nothing."""
        if self._engine.dialect.name != "postgresql":
            return
        if self._listener is None or self._listener.pid != os.getpid():
            self._listener = ChangeListener(self._engine)
        self._listener.add(callback)

    def _stop_listening(self) -> None:
        if self._listener is not None and self._listener.pid == os.getpid():
            self._listener.stop()
        self._listener = None

    def bump_generation(self) -> int:
        for attempt in range(BUMP_ATTEMPTS):
            try:
                with self._write() as conn:
                    if not conn.execute(COUNTER_BUMP).rowcount:
                        conn.execute(COUNTER_FIRST)  # the row is gone (emptied tables)
                    if self._engine.dialect.name == "postgresql":
                        conn.execute(NOTIFY)  # delivered when the bump commits
                    return int(conn.execute(COUNTER_SELECT).scalar_one())
            except DBAPIError as exc:
                if attempt == BUMP_ATTEMPTS - 1 or not (
                    isinstance(exc, IntegrityError) or retryable(exc)
                ):
                    raise
        raise AssertionError("unreachable")

    def get_setting(self, key: str) -> tuple[Any, int]:
        with self._read() as conn:
            row = conn.execute(SETTING_SELECT, {"b_key": key}).first()
        if row is None:
            return None, 0
        return json.loads(row.value), int(row.version)

    def put_setting(self, key: str, value: Any, expected_version: int) -> int:
        text = json.dumps(value, separators=(",", ":"))
        stale = ConflictError(f"setting {key!r} changed since version {expected_version}")
        if expected_version == 0:
            try:
                with self._write() as conn:
                    conn.execute(m.setting.insert(), {"id": key, "value": text, "version": 1})
            except IntegrityError:
                raise stale from None
            return 1
        params = {"b_key": key, "b_version": expected_version, "b_value": text}
        with self._write() as conn:
            if not conn.execute(SETTING_SWAP, params).rowcount:
                raise stale
        return expected_version + 1
