"""PostgreSQL ``LISTEN``/``NOTIFY`` for the change counter: a bump on PostgreSQL also sends a
notification (in the bump's transaction, so it is delivered on commit), and each process that
asks (``SQLStorage.on_change``) keeps one connection listening in a background thread and calls
its callbacks on every notification. ``storage.change_watch`` uses it to read the counter at
once instead of at its next poll, so a change shows on the next request rather than up to a
second later. The poll stays: a lost connection (reconnected after ``RETRY``), or a database
without notifications, only costs that second.

The connection is taken from the engine's pool and detached from it (so the pool opens another
in its place): it keeps the storage's connection settings and never counts against the pool.
It waits in autocommit, outside any transaction; notifications of every schema of the database
arrive (the channel is shared), which costs a spurious read of the counter, nothing more.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dex_py.storage.engine import error_reason

log = logging.getLogger(__name__)

CHANNEL = "dexpy_changes"
NOTIFY = sa.text(f"SELECT pg_notify('{CHANNEL}', '')")
RETRY = 5.0  # seconds before listening again after the connection failed
WAKE = 1.0  # seconds between two looks at whether to stop, while waiting for notifications


class ChangeListener:
    """One listening connection and thread for one process (``pid``)."""

    def __init__(self, engine: Engine) -> None:
        self.pid = os.getpid()
        self._engine = engine
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in effect (tests wait on it)
        self._stopped = threading.Event()

    def add(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on every notification; starts listening on first use."""
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dexpy-listen", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop listening and close the connection (within ``WAKE`` seconds)."""
        self._stopped.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(WAKE * 2)

    def _fire(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:
                log.exception("a change callback failed")

    def _connect(self) -> Any:
        pooled = self._engine.raw_connection()
        conn: Any = pooled.driver_connection
        pooled.detach()  # ours for good: the pool makes another in its place
        if not conn.autocommit:
            conn.rollback()
            conn.autocommit = True
        return conn

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                conn = self._connect()
                try:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._fire()  # anything missed while not listening
                    self.listening.set()
                    while not self._stopped.is_set():
                        for _ in conn.notifies(timeout=WAKE):
                            self._fire()
                finally:
                    self.listening.clear()
                    conn.close()
            except Exception as exc:
                log.warning(
                    "not listening for changes (retrying in %.0f s): %s", RETRY, error_reason(exc)
                )
                self._stopped.wait(RETRY)
