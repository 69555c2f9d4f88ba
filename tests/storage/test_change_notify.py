"""PostgreSQL ``LISTEN``/``NOTIFY``: a bump by another process (another storage, its own
connections) ends a watcher's poll interval at once, so the change shows on the next request
instead of up to a second later; elsewhere the interval alone decides."""

from __future__ import annotations

import time

import pytest

from dex_py.config import StorageConfig
from dex_py.storage import open_storage
from dex_py.storage.change_watch import ChangeWatch
from dex_py.storage.sql import SQLStorage


def _watch(storage: SQLStorage, rebuilds: list[int]) -> ChangeWatch:
    watch = ChangeWatch(storage, lambda: rebuilds.append(1), what="test", interval=3600)
    watch.force()  # the first build
    watch.poll()  # in this process: start listening, where the storage can
    return watch


@pytest.mark.parametrize(
    "sql_backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_notification_ends_the_interval(sql_config: StorageConfig) -> None:
    storage = open_storage(sql_config, migrate=False)
    other = open_storage(sql_config, migrate=False)
    assert isinstance(storage, SQLStorage)
    try:
        rebuilds: list[int] = []
        watch = _watch(storage, rebuilds)
        listener = storage._listener
        assert listener is not None and listener.listening.wait(10)
        thread = listener._thread
        watch.poll()  # what the listener's start asked for: nothing changed
        assert len(rebuilds) == 1
        other.bump_generation()
        deadline = time.monotonic() + 5
        while len(rebuilds) < 2 and time.monotonic() < deadline:
            watch.poll()  # an hour's interval: only the notification makes it read
            time.sleep(0.02)
        assert len(rebuilds) == 2
        assert watch.seen == storage.generation()
    finally:
        other.close()
        storage.close()
    assert thread is not None and not thread.is_alive()  # close() ends it, and its connection


@pytest.mark.parametrize("sql_backend", ["sqlite"], indirect=True)
def test_without_notifications_the_interval_decides(sql_config: StorageConfig) -> None:
    storage = open_storage(sql_config, migrate=False)
    assert isinstance(storage, SQLStorage)
    try:
        rebuilds: list[int] = []
        watch = _watch(storage, rebuilds)
        storage.bump_generation()
        watch.poll()
        assert len(rebuilds) == 1 and storage._listener is None
        watch.force()
        assert len(rebuilds) == 2
    finally:
        storage.close()
