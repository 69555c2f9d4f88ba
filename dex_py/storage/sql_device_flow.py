"""The device flow's storage on SQL (RFC 8628): device requests and the attempt counters that
rate-limit wrong user codes. ``storage.sql.SQLStorage`` inherits it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from dex_py.storage import models as m
from dex_py.storage.base import DeviceRequest, Issuer, NotFoundError, Updater
from dex_py.storage.sql_entities import (
    ATTEMPT_LOCKED,
    ATTEMPT_RESET,
    ATTEMPT_SELECT,
    ATTEMPT_UPDATE,
    DEVICE_BY_USER_CODE,
    DEVICE_REQUEST,
    escape_like,
)
from dex_py.storage.sql_transactions import SQLTransactions


class SQLDeviceFlow(SQLTransactions):
    """Device requests and attempt counters (see the module docstring)."""

    # device requests (the user code's unique index refuses a second live one)

    def create_device_request(self, r: DeviceRequest) -> None:
        self._create(DEVICE_REQUEST, r)

    def get_device_request(self, id: str) -> DeviceRequest:
        return self._get(DEVICE_REQUEST, id)

    def get_device_request_by_user_code(self, user_code: str) -> DeviceRequest:
        with self._read() as conn:
            row = conn.execute(DEVICE_BY_USER_CODE, {"b_code": user_code}).mappings().first()
        if row is None:
            raise NotFoundError(f"device request with user code {user_code!r} not found")
        return DEVICE_REQUEST.codec.decode(row)

    def update_device_request(self, id: str, fn: Updater[DeviceRequest]) -> DeviceRequest:
        return self._update(DEVICE_REQUEST, id, fn)

    def redeem_device_request(
        self, id: str, fn: Updater[DeviceRequest], issue: Issuer[DeviceRequest]
    ) -> DeviceRequest:
        return self._redeem(DEVICE_REQUEST, id, fn, issue)

    def delete_device_request(self, id: str) -> None:
        self._delete(DEVICE_REQUEST, id)

    # attempt counters

    def count_attempt(self, key: str, now: datetime, window: timedelta) -> int:
        """Increment under the row lock; the first attempt of a key inserts the row, and the
        loser of two first attempts at once retries and increments the winner's row."""
        for attempt in (1, 2):
            try:
                return self._count_attempt_once(key, now, window)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _count_attempt_once(self, key: str, now: datetime, window: timedelta) -> int:
        with self._write() as conn:
            row = conn.execute(ATTEMPT_LOCKED, {"b_key": key}).first()
            if row is None:
                values = {"id": key, "count": 1, "expiry": now + window}
                conn.execute(m.attempt_counter.insert(), values)
                return 1
            count, end = row
            count, end = (count + 1, end) if end > now else (1, now + window)
            conn.execute(ATTEMPT_UPDATE, {"b_key": key, "count": count, "expiry": end})
            return int(count)

    def attempts(self, key: str, now: datetime) -> int:
        with self._read() as conn:
            row = conn.execute(ATTEMPT_SELECT, {"b_key": key}).first()
        return int(row[0]) if row is not None and row[1] > now else 0

    def reset_attempts(self, prefix: str) -> int:
        with self._write() as conn:
            result = conn.execute(ATTEMPT_RESET, {"b_prefix": escape_like(prefix) + "%"})
        return int(result.rowcount)
